//! The bytes between the socket and the HTTP/2 frames: nothing for h2c (the socket is
//! read straight into the frame buffer and the frame buffer is written as it is), rustls
//! driven by hand for TLS (ciphertext read into its own buffer, decrypted into the frame
//! buffer; frames encrypted into the buffer that is written, one write per batch).

use rustls::ClientConnection;
use std::io::{self, BufRead, Write};

/// Initial capacity of the frame and ciphertext buffers.
const BUF: usize = 64 * 1024;
/// Least free space offered to a read.
const MIN_SPARE: usize = 32 * 1024;

/// A connection's bytes below HTTP/2.
pub struct Wire {
    tls: Option<Box<ClientConnection>>,
    /// Ciphertext read and not yet taken by rustls (TLS only).
    cipher: Vec<u8>,
    /// Frames read and not yet taken.
    pub frames: Vec<u8>,
    /// The server closed its TLS stream (close_notify).
    pub closed: bool,
}

impl Wire {
    /// Cleartext, or TLS over `tls` (after its handshake) with the ciphertext `read`
    /// but not yet given to it.
    pub fn new(tls: Option<(ClientConnection, Vec<u8>)>) -> Result<Wire, String> {
        let mut w = Wire {
            tls: None,
            cipher: Vec::new(),
            frames: Vec::with_capacity(BUF),
            closed: false,
        };
        if let Some((mut conn, read)) = tls {
            // Frames are encrypted as they come: never held back by a buffer limit.
            conn.set_buffer_limit(None);
            w.tls = Some(Box::new(conn));
            w.cipher = read;
            w.cipher.reserve(BUF);
            // The server's first frames may have come with the end of the handshake.
            w.decrypt()?;
        }
        Ok(w)
    }

    /// The buffer the next socket read appends to (give it back with [`Wire::received`]).
    pub fn read_buf(&mut self) -> Vec<u8> {
        let buf = match self.tls {
            Some(_) => &mut self.cipher,
            None => &mut self.frames,
        };
        if buf.capacity() - buf.len() < MIN_SPARE {
            buf.reserve(MIN_SPARE.max(buf.len()));
        }
        std::mem::take(buf)
    }

    /// A read into `buf` completed: the frame bytes it added.
    pub fn received(&mut self, buf: Vec<u8>) -> Result<usize, String> {
        if self.tls.is_none() {
            let before = self.frames.len();
            self.frames = buf;
            return Ok(self.frames.len() - before);
        }
        self.cipher = buf;
        let before = self.frames.len();
        self.decrypt()?;
        Ok(self.frames.len() - before)
    }

    /// Give rustls the ciphertext read and take the plaintext it yields.
    fn decrypt(&mut self) -> Result<(), String> {
        let Some(conn) = self.tls.as_mut() else {
            return Ok(());
        };
        let mut taken = 0;
        while taken < self.cipher.len() {
            let n = conn
                .read_tls(&mut &self.cipher[taken..])
                .map_err(|e| format!("TLS: {e}"))?;
            conn.process_new_packets()
                .map_err(|e| format!("TLS: {e}"))?;
            let got = plaintext(conn, &mut self.frames, &mut self.closed)?;
            if n == 0 && got == 0 {
                return Err("TLS: the connection is stuck".into());
            }
            taken += n;
        }
        plaintext(conn, &mut self.frames, &mut self.closed)?;
        self.cipher.clear();
        Ok(())
    }

    /// Whether there is something to write: `frames` to send, or TLS records rustls
    /// has to send on its own (alerts, key updates).
    pub fn wants_write(&self, frames: &[u8]) -> bool {
        !frames.is_empty() || self.tls.as_ref().is_some_and(|c| c.wants_write())
    }

    /// Move the frames of `plain` into `wire`, the bytes to write (for h2c the buffers
    /// are swapped when `wire` is empty: no copy).
    pub fn seal(&mut self, plain: &mut Vec<u8>, wire: &mut Vec<u8>) -> io::Result<()> {
        let Some(conn) = self.tls.as_mut() else {
            if wire.is_empty() {
                std::mem::swap(plain, wire);
            } else {
                wire.extend_from_slice(plain);
                plain.clear();
            }
            return Ok(());
        };
        if !plain.is_empty() {
            conn.writer().write_all(plain)?;
            plain.clear();
        }
        while conn.wants_write() {
            conn.write_tls(wire)?;
        }
        Ok(())
    }

    /// TLS: queue close_notify (the next [`Wire::seal`] writes it).
    pub fn close(&mut self) {
        if let Some(conn) = self.tls.as_mut() {
            conn.send_close_notify();
        }
    }
}

/// Append the plaintext `conn` holds to `frames`: how much; `closed` is set after the
/// server's close_notify (or a socket closed without one).
fn plaintext(
    conn: &mut ClientConnection,
    frames: &mut Vec<u8>,
    closed: &mut bool,
) -> Result<usize, String> {
    let mut total = 0;
    let mut reader = conn.reader();
    loop {
        match reader.fill_buf() {
            Ok([]) => {
                *closed = true;
                return Ok(total);
            }
            Ok(chunk) => {
                let n = chunk.len();
                frames.extend_from_slice(chunk);
                reader.consume(n);
                total += n;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(total),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                *closed = true;
                return Ok(total);
            }
            Err(e) => return Err(format!("TLS: {e}")),
        }
    }
}
