//! Base64 as stout does it: standard alphabet, padded on output, lenient on
//! input (whitespace skipped, stops at the first `=`, padding optional).

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes `bytes` with the standard alphabet and `=` padding.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let sextets = [
            b[0] >> 2,
            ((b[0] & 0x03) << 4) | (b[1] >> 4),
            ((b[1] & 0x0f) << 2) | (b[2] >> 6),
            b[2] & 0x3f,
        ];
        for (i, sextet) in sextets.iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[usize::from(*sextet)]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes base64 the way stout's `base64::decode` does.
///
/// Whitespace is skipped, decoding stops at the first `=`, and a missing
/// padding is fine. Any other character outside the alphabet is an error,
/// which names it.
pub fn decode(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut quad = [0u8; 4];
    let mut filled = 0;
    for c in text.bytes() {
        if c == b'=' {
            break;
        }
        if c.is_ascii_whitespace() {
            continue;
        }
        let sextet = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(format!("invalid character '{}'", char::from(c))),
        };
        quad[filled] = sextet;
        filled += 1;
        if filled == 4 {
            out.extend_from_slice(&triple(quad));
            filled = 0;
        }
    }
    if filled > 1 {
        quad[filled..].fill(0);
        out.extend_from_slice(&triple(quad)[..filled - 1]);
    }
    Ok(out)
}

fn triple(q: [u8; 4]) -> [u8; 3] {
    [
        (q[0] << 2) | (q[1] >> 4),
        (q[1] << 4) | (q[2] >> 2),
        (q[2] << 6) | q[3],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_with_padding() {
        assert_eq!(encode(b""), "");
        assert_eq!(encode(b"f"), "Zg==");
        assert_eq!(encode(b"fo"), "Zm8=");
        assert_eq!(encode(b"foo"), "Zm9v");
        assert_eq!(encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(encode(&[0xff, 0xfe]), "//4=");
    }

    #[test]
    fn decodes_leniently() {
        assert_eq!(decode("Zm9vYmFy").unwrap(), b"foobar");
        assert_eq!(decode("Zg==").unwrap(), b"f");
        assert_eq!(decode("Zg").unwrap(), b"f");
        assert_eq!(decode("Zm 9v\nYg==trailing").unwrap(), b"foob");
        assert_eq!(decode("//4=").unwrap(), [0xff, 0xfe]);
        assert!(decode("Zm9v*").unwrap_err().contains('*'));
    }

    #[test]
    fn round_trips_all_lengths() {
        let data: Vec<u8> = (0..=255).collect();
        for n in 0..data.len() {
            assert_eq!(decode(&encode(&data[..n])).unwrap(), &data[..n]);
        }
    }
}
