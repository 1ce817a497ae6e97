//! A raw HTTP/1.1 client over `std::net::TcpStream` for the HTTP tests, and runtime helpers.

#![allow(dead_code)] // Each test file uses a part of it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use libprocess::Runtime;

/// A runtime listening on 127.0.0.1 and a free port.
pub fn listening() -> Runtime {
    Runtime::builder()
        .workers(2)
        .ip("127.0.0.1".parse().unwrap())
        .port(0)
        .build()
}

/// Polls `done` every 5 ms for up to 10 s.
pub fn wait_until(mut done: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if done() {
            return;
        }
        std::thread::park_timeout(Duration::from_millis(5));
    }
    panic!("condition not reached in 10 s");
}

/// A response as read off the wire.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// One connection: write raw requests, read responses (whole or chunk by chunk).
pub struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(address: SocketAddr) -> Client {
        let stream = TcpStream::connect(address).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Client {
            reader: BufReader::new(stream),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).expect("write");
    }

    /// Sends a GET for `target` (keep-alive).
    pub fn get(&mut self, target: &str) -> RawResponse {
        self.send_get(target, &[]);
        self.response()
    }

    pub fn send_get(&mut self, target: &str, headers: &[(&str, &str)]) {
        let mut request = format!("GET {target} HTTP/1.1\r\nHost: test\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        self.send(request.as_bytes());
    }

    /// Reads the status line and headers.
    pub fn head(&mut self) -> (u16, Vec<(String, String)>) {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("status line");
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {line:?}"));
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).expect("header line");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').expect("header");
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
        (status, headers)
    }

    /// Reads one chunk of a chunked body; `None` at the last (empty) chunk.
    pub fn chunk(&mut self) -> Option<Vec<u8>> {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("chunk size");
        let size = usize::from_str_radix(line.trim(), 16)
            .unwrap_or_else(|_| panic!("bad chunk size {line:?}"));
        let mut data = vec![0; size + 2];
        self.reader.read_exact(&mut data).expect("chunk data");
        assert_eq!(&data[size..], b"\r\n");
        data.truncate(size);
        (size > 0).then_some(data)
    }

    /// Reads a whole response.
    pub fn response(&mut self) -> RawResponse {
        let (status, headers) = self.head();
        let find = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let body = if find("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            let mut body = Vec::new();
            while let Some(chunk) = self.chunk() {
                body.extend_from_slice(&chunk);
            }
            body
        } else if let Some(length) = find("content-length") {
            let mut body = vec![0; length.parse().unwrap()];
            self.reader.read_exact(&mut body).expect("body");
            body
        } else {
            let mut body = Vec::new();
            self.reader.read_to_end(&mut body).expect("body to EOF");
            body
        };
        RawResponse {
            status,
            headers,
            body,
        }
    }

    /// True once the server closed the connection (reads EOF).
    pub fn is_closed(&mut self) -> bool {
        let mut rest = Vec::new();
        self.reader.read_to_end(&mut rest).is_ok()
    }

    pub fn shutdown(self) {
        let _ = self.reader.get_ref().shutdown(std::net::Shutdown::Both);
    }
}

/// One GET on a fresh connection.
pub fn get(address: SocketAddr, target: &str) -> RawResponse {
    Client::connect(address).get(target)
}
