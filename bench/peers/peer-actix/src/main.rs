//! actix-web peer: `HttpServer` with one worker per `--threads`; actix adds `Date`, the
//! handlers add `Server`.

#[path = "../../common.rs"]
mod common;

use actix_web::http::header::{CONTENT_TYPE, SERVER};
use actix_web::{get, App, HttpResponse, HttpServer};

#[get("/plaintext")]
async fn plaintext() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((SERVER, "actix"))
        .insert_header((CONTENT_TYPE, "text/plain"))
        .body(common::PLAINTEXT)
}

#[get("/json")]
async fn json() -> HttpResponse {
    let body = serde_json::to_vec(&common::Message {
        message: "Hello, World!",
    })
    .unwrap_or_default();
    HttpResponse::Ok()
        .insert_header((SERVER, "actix"))
        .insert_header((CONTENT_TYPE, "application/json"))
        .body(body)
}

fn main() -> std::io::Result<()> {
    let args = common::args("peer-actix");
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(|| App::new().service(plaintext).service(json))
            .workers(args.threads)
            .backlog(4096)
            .max_connections(100_000)
            .bind(args.listen)?
            .run()
            .await
    })
}
