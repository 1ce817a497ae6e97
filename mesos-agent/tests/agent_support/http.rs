//! A small blocking HTTP/1.1 client for the tests (one connection per request), with
//! chunked bodies and RecordIO streams.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Response headers, in order.
pub type Headers = Vec<(String, String)>;

/// A response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
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

/// An open response whose body is read as it comes.
pub struct Stream {
    reader: BufReader<TcpStream>,
    chunked: bool,
    pending: Vec<u8>,
    done: bool,
}

fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, Headers, BufReader<TcpStream>)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((k, v)) = trimmed.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    Ok((status, headers, reader))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// One request; the whole body is read.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let mut all = headers.to_vec();
    all.push(("Connection", "close"));
    let (status, headers, mut reader) = send(addr, method, path, &all, body)?;
    let chunked =
        header(&headers, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        let mut stream = Stream {
            reader,
            chunked: true,
            pending: Vec::new(),
            done: false,
        };
        let mut body = Vec::new();
        while let Some(chunk) = stream.read_chunk()? {
            body.extend_from_slice(&chunk);
        }
        body
    } else if let Some(length) =
        header(&headers, "content-length").and_then(|v| v.parse::<usize>().ok())
    {
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    } else {
        let mut body = Vec::new();
        reader.read_to_end(&mut body)?;
        body
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

pub fn get(addr: SocketAddr, path: &str) -> HttpResponse {
    request(addr, "GET", path, &[], b"").expect("GET")
}

pub fn post_json(addr: SocketAddr, path: &str, body: &serde_json::Value) -> HttpResponse {
    request(
        addr,
        "POST",
        path,
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
        ],
        body.to_string().as_bytes(),
    )
    .expect("POST")
}

/// Opens a streaming request (a SUBSCRIBE); the body is read with [`Stream::next_record`].
pub fn stream(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, Headers, Stream)> {
    let (status, headers, reader) = send(addr, "POST", path, headers, body)?;
    let chunked =
        header(&headers, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    Ok((
        status,
        headers,
        Stream {
            reader,
            chunked,
            pending: Vec::new(),
            done: false,
        },
    ))
}

impl Stream {
    fn read_chunk(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        if self.done {
            return Ok(None);
        }
        if !self.chunked {
            let mut buf = vec![0; 4096];
            let n = self.reader.read(&mut buf)?;
            if n == 0 {
                self.done = true;
                return Ok(None);
            }
            buf.truncate(n);
            return Ok(Some(buf));
        }
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            self.done = true;
            return Ok(None);
        }
        let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
            .map_err(|_| std::io::Error::other(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            self.done = true;
            return Ok(None);
        }
        let mut chunk = vec![0; size + 2];
        self.reader.read_exact(&mut chunk)?;
        chunk.truncate(size);
        Ok(Some(chunk))
    }

    /// The next RecordIO record, or `None` at the end of the stream.
    pub fn next_record(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(newline) = self.pending.iter().position(|b| *b == b'\n') {
                let size: usize = std::str::from_utf8(&self.pending[..newline])
                    .ok()?
                    .trim()
                    .parse()
                    .ok()?;
                if self.pending.len() >= newline + 1 + size {
                    let record = self.pending[newline + 1..newline + 1 + size].to_vec();
                    self.pending.drain(..newline + 1 + size);
                    return Some(record);
                }
            }
            match self.read_chunk() {
                Ok(Some(chunk)) => self.pending.extend_from_slice(&chunk),
                _ => return None,
            }
        }
    }

    /// The next record as JSON.
    pub fn next_json(&mut self) -> Option<serde_json::Value> {
        self.next_record()
            .and_then(|r| serde_json::from_slice(&r).ok())
    }

    /// Bounds how long reads wait.
    pub fn set_timeout(&self, timeout: Duration) {
        let _ = self.reader.get_ref().set_read_timeout(Some(timeout));
    }
}
