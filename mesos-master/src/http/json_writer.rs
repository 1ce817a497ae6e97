//! A streaming JSON writer into one buffer, for the master's large endpoints (`/state` of a
//! cluster with a million objects is written in one pass, without building a tree of values).
//!
//! The output is what Mesos's `jsonify` writes: compact, and here ASCII-only (every
//! character outside printable ASCII is a `\uXXXX` escape, so that clients counting bytes
//! after decoding, as mesoshttp does, keep working). Doubles are written as rapidjson writes
//! them: `2.0`, `0.001`, `1e21`, infinities as the strings `"Infinity"`/`"-Infinity"`.
//!
//! Commas are placed automatically: every value and every key writes a separator when one is
//! due, so callers only say what to write:
//!
//! ```
//! use mesos_master::http::json_writer::JsonWriter;
//! let mut w = JsonWriter::new();
//! w.begin_object();
//! w.field_str("name", "a\"b");
//! w.key("n");
//! w.begin_array();
//! w.f64(1.0);
//! w.u64(2);
//! w.end_array();
//! w.end_object();
//! assert_eq!(w.as_str(), r#"{"name":"a\"b","n":[1.0,2]}"#);
//! ```

use std::fmt::Write as _;

/// Writes one JSON document into a growing buffer.
#[derive(Debug, Default)]
pub struct JsonWriter {
    buf: Vec<u8>,
    comma: bool,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Bytes a JSON string cannot hold as they are (here: anything but printable ASCII, `"`
/// and `\\` included).
static NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [true; 256];
    let mut b = 0x20;
    while b < 0x7f {
        table[b] = b == b'"' as usize || b == b'\\' as usize;
        b += 1;
    }
    table
};

impl JsonWriter {
    /// An empty writer.
    pub fn new() -> Self {
        JsonWriter::default()
    }

    /// An empty writer with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        JsonWriter {
            buf: Vec::with_capacity(capacity),
            comma: false,
        }
    }

    #[inline]
    fn sep(&mut self) {
        if self.comma {
            self.buf.push(b',');
        }
    }

    /// Starts an object (as a value).
    #[inline]
    pub fn begin_object(&mut self) {
        self.sep();
        self.buf.push(b'{');
        self.comma = false;
    }

    /// Ends the current object.
    #[inline]
    pub fn end_object(&mut self) {
        self.buf.push(b'}');
        self.comma = true;
    }

    /// Starts an array (as a value).
    #[inline]
    pub fn begin_array(&mut self) {
        self.sep();
        self.buf.push(b'[');
        self.comma = false;
    }

    /// Ends the current array.
    #[inline]
    pub fn end_array(&mut self) {
        self.buf.push(b']');
        self.comma = true;
    }

    /// Writes a key in the current object; the next call writes its value.
    #[inline]
    pub fn key(&mut self, key: &str) {
        self.sep();
        self.escaped(key);
        self.buf.push(b':');
        self.comma = false;
    }

    /// A string value.
    #[inline]
    pub fn str(&mut self, value: &str) {
        self.sep();
        self.escaped(value);
        self.comma = true;
    }

    /// A double, as rapidjson writes it.
    pub fn f64(&mut self, x: f64) {
        self.sep();
        write_double(&mut self.buf, x);
        self.comma = true;
    }

    /// An unsigned integer.
    #[inline]
    pub fn u64(&mut self, n: u64) {
        self.sep();
        self.buf.extend_from_slice(itoa_buf(n).as_slice());
        self.comma = true;
    }

    /// A signed integer.
    pub fn i64(&mut self, n: i64) {
        self.sep();
        if n < 0 {
            self.buf.push(b'-');
        }
        self.buf
            .extend_from_slice(itoa_buf(n.unsigned_abs()).as_slice());
        self.comma = true;
    }

    /// A boolean.
    #[inline]
    pub fn bool(&mut self, b: bool) {
        self.sep();
        self.buf
            .extend_from_slice(if b { b"true" } else { b"false" });
        self.comma = true;
    }

    /// A value already written as JSON (e.g. a protobuf in Mesos's JSON mapping).
    pub fn raw(&mut self, json: &str) {
        self.sep();
        self.buf.extend_from_slice(json.as_bytes());
        self.comma = true;
    }

    /// JSON already written (ASCII, e.g. a fragment another `JsonWriter` wrote): a value, or
    /// a run of `"key":value` fields inside an object.
    #[inline]
    pub fn raw_bytes(&mut self, json: &[u8]) {
        self.sep();
        self.buf.extend_from_slice(json);
        self.comma = true;
    }

    /// A string of ranges, `"[a-b, c-d]"`: `items` sorted and coalesced.
    pub fn ranges(&mut self, items: &mut [(u64, u64)]) {
        items.sort_unstable();
        self.sep();
        self.buf.extend_from_slice(b"\"[");
        let mut current: Option<(u64, u64)> = None;
        let mut first = true;
        for &(begin, end) in items.iter() {
            match &mut current {
                Some(last) if begin <= last.1.saturating_add(1) => last.1 = last.1.max(end),
                _ => {
                    if let Some(done) = current.replace((begin, end)) {
                        self.range(done, first);
                        first = false;
                    }
                }
            }
        }
        if let Some(done) = current {
            self.range(done, first);
        }
        self.buf.extend_from_slice(b"]\"");
        self.comma = true;
    }

    fn range(&mut self, (begin, end): (u64, u64), first: bool) {
        if !first {
            self.buf.extend_from_slice(b", ");
        }
        self.buf.extend_from_slice(itoa_buf(begin).as_slice());
        self.buf.push(b'-');
        self.buf.extend_from_slice(itoa_buf(end).as_slice());
    }

    /// `"key":"value"`.
    #[inline]
    pub fn field_str(&mut self, key: &str, value: &str) {
        self.key(key);
        self.str(value);
    }

    /// `"key":<double>`.
    #[inline]
    pub fn field_f64(&mut self, key: &str, value: f64) {
        self.key(key);
        self.f64(value);
    }

    /// `"key":<integer>`.
    #[inline]
    pub fn field_u64(&mut self, key: &str, value: u64) {
        self.key(key);
        self.u64(value);
    }

    /// `"key":<bool>`.
    #[inline]
    pub fn field_bool(&mut self, key: &str, value: bool) {
        self.key(key);
        self.bool(value);
    }

    /// `"key":[]`.
    pub fn field_empty_array(&mut self, key: &str) {
        self.key(key);
        self.begin_array();
        self.end_array();
    }

    /// The document so far.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf).expect("the writer writes ASCII only")
    }

    /// Room left in the buffer before it grows.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// The document.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    #[inline]
    fn escaped(&mut self, s: &str) {
        self.buf.push(b'"');
        let bytes = s.as_bytes();
        // Fast path: printable ASCII without quotes or backslashes is copied as is.
        match bytes.iter().position(|&b| NEEDS_ESCAPE[usize::from(b)]) {
            None => self.buf.extend_from_slice(bytes),
            Some(first) => {
                self.buf.extend_from_slice(&bytes[..first]);
                self.escape_slow(&s[first..]);
            }
        }
        self.buf.push(b'"');
    }

    fn escape_slow(&mut self, s: &str) {
        for c in s.chars() {
            match c {
                '"' => self.buf.extend_from_slice(b"\\\""),
                '\\' => self.buf.extend_from_slice(b"\\\\"),
                '\n' => self.buf.extend_from_slice(b"\\n"),
                '\r' => self.buf.extend_from_slice(b"\\r"),
                '\t' => self.buf.extend_from_slice(b"\\t"),
                '\u{8}' => self.buf.extend_from_slice(b"\\b"),
                '\u{c}' => self.buf.extend_from_slice(b"\\f"),
                ' '..='~' => self.buf.push(c as u8),
                _ => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        self.buf.extend_from_slice(b"\\u");
                        for shift in [12, 8, 4, 0] {
                            self.buf.push(HEX[usize::from((*unit >> shift) & 0xf)]);
                        }
                    }
                }
            }
        }
    }
}

/// Decimal digits of `n` in a small stack buffer.
struct Digits {
    bytes: [u8; 20],
    start: usize,
}

impl Digits {
    fn as_slice(&self) -> &[u8] {
        &self.bytes[self.start..]
    }
}

#[inline]
fn itoa_buf(mut n: u64) -> Digits {
    let mut d = Digits {
        bytes: [0; 20],
        start: 20,
    };
    loop {
        d.start -= 1;
        d.bytes[d.start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    d
}

/// Writes `x` as rapidjson does: shortest round-trip digits, decimal notation when the
/// exponent is in `[-6, 21)`, always with a fraction (`2.0`), scientific notation otherwise
/// (`1e21`, `1.5e-7`). Infinities are quoted (Mesos patches rapidjson so), NaN is `NaN`.
pub fn write_double(out: &mut Vec<u8>, x: f64) {
    if x.is_nan() {
        out.extend_from_slice(b"NaN");
        return;
    }
    if x.is_infinite() {
        out.extend_from_slice(if x > 0.0 {
            b"\"Infinity\""
        } else {
            b"\"-Infinity\""
        });
        return;
    }
    if x == 0.0 {
        out.extend_from_slice(if x.is_sign_negative() {
            b"-0.0"
        } else {
            b"0.0"
        });
        return;
    }
    let magnitude = x.abs();
    // Integral values (the common case: memory, disk): digits and ".0".
    if magnitude < 1e15 && x.fract() == 0.0 {
        if x < 0.0 {
            out.push(b'-');
        }
        out.extend_from_slice(itoa_buf(magnitude as u64).as_slice());
        out.extend_from_slice(b".0");
        return;
    }
    // Up to three decimals (0.1 cpus, 0.5 GB): integer part, point, digits without trailing
    // zeros. `m / 1000` correctly rounded is `x`, so these digits read back as `x`, and no
    // shorter decimal does (decimals this short are 0.001 apart, far more than an ulp).
    if magnitude < 1e12 {
        let thousandths = (magnitude * 1000.0).round();
        if thousandths / 1000.0 == magnitude {
            let thousandths = thousandths as u64;
            if x < 0.0 {
                out.push(b'-');
            }
            out.extend_from_slice(itoa_buf(thousandths / 1000).as_slice());
            out.push(b'.');
            let mut fraction = thousandths % 1000;
            let mut digits = 3;
            while fraction.is_multiple_of(10) && digits > 1 {
                fraction /= 10;
                digits -= 1;
            }
            let printed = itoa_buf(fraction);
            for _ in printed.as_slice().len()..digits {
                out.push(b'0');
            }
            out.extend_from_slice(printed.as_slice());
            return;
        }
    }
    let mut text = String::with_capacity(24);
    if (1e-6..1e21).contains(&magnitude) {
        // Rust's `Display` gives the shortest round-trip digits in decimal notation.
        write!(text, "{x}").expect("writing to a String");
        if !text.contains('.') {
            text.push_str(".0");
        }
    } else {
        if x < 0.0 {
            text.push('-');
        }
        let sci = format!("{magnitude:e}");
        let (mantissa, exponent) = sci.split_once('e').expect("`{:e}` has an exponent");
        text.push_str(mantissa);
        text.push('e');
        text.push_str(exponent);
    }
    out.extend_from_slice(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn double(x: f64) -> String {
        let mut out = Vec::new();
        write_double(&mut out, x);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn doubles_are_written_as_rapidjson_writes_them() {
        assert_eq!(double(2.0), "2.0");
        assert_eq!(double(-3.0), "-3.0");
        assert_eq!(double(0.1), "0.1");
        assert_eq!(double(0.001), "0.001");
        assert_eq!(double(123456.789), "123456.789");
        assert_eq!(double(1e21), "1e21");
        assert_eq!(double(1.5e-7), "1.5e-7");
        assert_eq!(double(0.0), "0.0");
        assert_eq!(double(f64::INFINITY), "\"Infinity\"");
        assert_eq!(double(1e20), "100000000000000000000.0");
        assert_eq!(double(0.05), "0.05");
        assert_eq!(double(-2.125), "-2.125");
        assert_eq!(double(1.25e-3), "0.00125");
        // The fast path agrees with the shortest round-trip digits.
        for i in 0..20_000u32 {
            let x = f64::from(i) * 0.001 + 0.0007 * f64::from(i % 3);
            let expected = format!("{x}");
            let expected = if expected.contains('.') {
                expected
            } else {
                format!("{expected}.0")
            };
            assert_eq!(double(x), expected, "{x}");
        }
    }

    #[test]
    fn strings_are_escaped_to_ascii() {
        assert!(!NEEDS_ESCAPE[usize::from(b'a')] && !NEEDS_ESCAPE[usize::from(b' ')]);
        assert!(NEEDS_ESCAPE[usize::from(b'"')] && NEEDS_ESCAPE[0x7f] && NEEDS_ESCAPE[0x1f]);
        let mut w = JsonWriter::new();
        w.str("a\"b\\c\nd\u{1}é😀");
        assert_eq!(w.as_str(), r#""a\"b\\c\nd\u0001\u00e9\ud83d\ude00""#);
        let parsed: String = serde_json::from_str(w.as_str()).unwrap();
        assert_eq!(parsed, "a\"b\\c\nd\u{1}é😀");
    }

    #[test]
    fn ranges_are_sorted_and_coalesced() {
        let mut w = JsonWriter::new();
        w.begin_array();
        w.ranges(&mut [(5, 6), (1, 2), (3, 3), (10, 20), (12, 15)]);
        w.ranges(&mut []);
        w.raw_bytes(br#""x":1"#);
        w.end_array();
        assert_eq!(w.as_str(), r#"["[1-3, 5-6, 10-20]","[]","x":1]"#);
        let mut items = [(5, 6), (1, 2), (3, 3), (10, 20), (12, 15)];
        assert_eq!(
            format!("\"{}\"", crate::http::state_json::format_ranges(&mut items)),
            r#""[1-3, 5-6, 10-20]""#
        );
    }

    #[test]
    fn commas_follow_nesting() {
        let mut w = JsonWriter::new();
        w.begin_object();
        w.key("a");
        w.begin_array();
        w.begin_object();
        w.end_object();
        w.begin_object();
        w.field_bool("x", true);
        w.end_object();
        w.end_array();
        w.field_empty_array("b");
        w.key("c");
        w.i64(-5);
        w.end_object();
        assert_eq!(w.as_str(), r#"{"a":[{},{"x":true}],"b":[],"c":-5}"#);
    }
}
