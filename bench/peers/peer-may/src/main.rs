//! may_minihttp peer in the style of TechEmpower's may-minihttp entry: an
//! `HttpServiceFactory`, a bare `match` on the path, small coroutine stacks, one may
//! worker per `--threads`. may_minihttp writes `Server: M`, `Date` and `Content-Length`.

#[path = "../../common.rs"]
mod common;

use std::io;

use bytes::BufMut;
use may_minihttp::{HttpService, HttpServiceFactory, Request, Response};

struct Techempower;

impl HttpService for Techempower {
    fn call(&mut self, req: Request, rsp: &mut Response) -> io::Result<()> {
        match req.path() {
            "/plaintext" => {
                rsp.header("Content-Type: text/plain").body(common::PLAINTEXT);
            }
            "/json" => {
                rsp.header("Content-Type: application/json");
                let msg = common::Message {
                    message: "Hello, World!",
                };
                serde_json::to_writer(rsp.body_mut().writer(), &msg)?;
            }
            _ => {
                rsp.status_code(404, "Not Found");
            }
        }
        Ok(())
    }
}

struct Factory;

impl HttpServiceFactory for Factory {
    type Service = Techempower;

    fn new_service(&self, _id: usize) -> Techempower {
        Techempower
    }
}

fn main() {
    let args = common::args("peer-may");
    may::config()
        .set_workers(args.threads)
        .set_pool_capacity(1000)
        .set_stack_size(0x1000);
    match Factory.start(args.listen) {
        Ok(server) => {
            let _ = server.join();
        }
        Err(e) => {
            eprintln!("peer-may: cannot listen on {}: {e}", args.listen);
            std::process::exit(1);
        }
    }
}
