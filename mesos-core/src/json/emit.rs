//! The JSON writer: a protobuf message (by reflection) to compact, ASCII-only
//! JSON, field by field in declaration order, as stout's `jsonify` does.

use std::fmt::Write as _;

use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MapKey, ReflectMessage, Value};

use super::base64;

/// Appends `message` as a JSON object.
///
/// `typed` says the message was transcoded from a generated prost type. In
/// those, `required` fields are plain (non-`Option`) values and so always
/// set, but prost leaves a map entry's value off the wire when it equals
/// its default, which would read back here as a message with its required
/// fields unset. With `typed`, required fields print even when unset.
pub(super) fn write_message(out: &mut String, message: &DynamicMessage, typed: bool) {
    let desc = message.descriptor();
    out.push('{');
    let mut first = true;
    // `MessageDescriptor::fields` is in field-number order; Mesos prints in
    // declaration order, which is the order of the descriptor proto.
    for proto in &desc.descriptor_proto().field {
        let field = desc
            .get_field(u32::try_from(proto.number()).expect("field numbers are positive"))
            .expect("a declared field is in its message's descriptor");
        let value = message.get_field(&field);
        if field.is_list() || field.is_map() {
            let empty = match value.as_ref() {
                Value::List(items) => items.is_empty(),
                Value::Map(entries) => entries.is_empty(),
                _ => true,
            };
            if empty {
                continue;
            }
        } else {
            let set = message.has_field(&field) || (typed && field.is_required());
            if !set && !prints_default(&field) {
                continue;
            }
        }
        // An enum number the schema doesn't know counts as unset (proto2
        // keeps such values out of the field).
        if let (&Value::EnumNumber(n), Kind::Enum(e)) = (value.as_ref(), field.kind())
            && e.get_value(n).is_none()
        {
            if !prints_default(&field) {
                continue;
            }
            let default = field.default_value();
            open_field(out, &mut first, field.name());
            write_value(out, &field.kind(), &default, typed);
            continue;
        }
        open_field(out, &mut first, field.name());
        match value.as_ref() {
            Value::List(items) => {
                let kind = field.kind();
                out.push('[');
                let mut first_item = true;
                for item in items {
                    if let (&Value::EnumNumber(n), Kind::Enum(e)) = (item, &kind)
                        && e.get_value(n).is_none()
                    {
                        continue;
                    }
                    if !first_item {
                        out.push(',');
                    }
                    first_item = false;
                    write_value(out, &kind, item, typed);
                }
                out.push(']');
            }
            Value::Map(entries) => {
                let Kind::Message(entry) = field.kind() else {
                    unreachable!("map fields have an entry message")
                };
                let value_kind = entry.map_entry_value_field().kind();
                let mut sorted: Vec<_> = entries.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (key, item)) in sorted.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(out, &map_key_string(key));
                    out.push(':');
                    write_value(out, &value_kind, item, typed);
                }
                out.push('}');
            }
            other => write_value(out, &field.kind(), other, typed),
        }
    }
    out.push('}');
}

/// Whether an unset singular field is printed anyway: it declares an
/// explicit default and is not deprecated.
fn prints_default(field: &FieldDescriptor) -> bool {
    let proto = field.field_descriptor_proto();
    proto.default_value.is_some() && !proto.options.as_ref().is_some_and(|o| o.deprecated())
}

fn open_field(out: &mut String, first: &mut bool, name: &str) {
    if !*first {
        out.push(',');
    }
    *first = false;
    write_string(out, name);
    out.push(':');
}

fn write_value(out: &mut String, kind: &Kind, value: &Value, typed: bool) {
    match value {
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::I32(n) => write!(out, "{n}").expect("writing to a String"),
        Value::I64(n) => write!(out, "{n}").expect("writing to a String"),
        Value::U32(n) => write!(out, "{n}").expect("writing to a String"),
        Value::U64(n) => write!(out, "{n}").expect("writing to a String"),
        Value::F32(x) => write_double(out, f64::from(*x)),
        Value::F64(x) => write_double(out, *x),
        Value::String(s) => write_string(out, s),
        Value::Bytes(b) => write_string(out, &base64::encode(b)),
        Value::EnumNumber(n) => {
            let name = match kind {
                Kind::Enum(e) => e.get_value(*n).map(|v| v.name().to_owned()),
                _ => None,
            };
            // Unknown numbers were filtered out by the caller.
            write_string(out, name.as_deref().unwrap_or_default());
        }
        Value::Message(m) => write_message(out, m, typed),
        Value::List(_) | Value::Map(_) => unreachable!("nested lists and maps do not exist"),
    }
}

/// Map keys are strings in JSON; other key types are written as their JSON
/// text (`true`, `42`), as `jsonify` does.
fn map_key_string(key: &MapKey) -> String {
    match key {
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(n) => n.to_string(),
        MapKey::I64(n) => n.to_string(),
        MapKey::U32(n) => n.to_string(),
        MapKey::U64(n) => n.to_string(),
        MapKey::String(s) => s.clone(),
    }
}

/// Writes a JSON string: `"` and `\` escaped, control characters as the
/// short escapes or `\u00XX`, everything beyond ASCII as `\uXXXX` (UTF-16,
/// so surrogate pairs above the BMP).
pub(super) fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c < ' ' || !c.is_ascii() => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(out, "\\u{unit:04X}").expect("writing to a String");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Writes a double the way rapidjson's `Writer::Double` does (shortest
/// round-trip digits, then its "prettify" layout): `2.0`, `0.001`,
/// `123456.789`, `1e21`, `1.5e-7`, `0.0`, `-0.0`. Infinities are the
/// strings `"Infinity"` and `"-Infinity"` (Mesos patches rapidjson so);
/// NaN is the bare token `NaN` (unpatched rapidjson with
/// `kWriteNanAndInfFlag`), which is not valid JSON, as in Mesos.
pub(super) fn write_double(out: &mut String, x: f64) {
    if x.is_nan() {
        out.push_str("NaN");
        return;
    }
    if x.is_infinite() {
        // Mesos patches rapidjson to quote infinities.
        out.push_str(if x > 0.0 {
            "\"Infinity\""
        } else {
            "\"-Infinity\""
        });
        return;
    }
    if x == 0.0 {
        out.push_str(if x.is_sign_negative() { "-0.0" } else { "0.0" });
        return;
    }
    if x < 0.0 {
        out.push('-');
    }
    // `{:e}` gives the shortest round-trip digits: "1.2345e-7", "5e0".
    let sci = format!("{:e}", x.abs());
    let (mantissa, exponent) = sci.split_once('e').expect("`{:e}` always has an exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exponent: i32 = exponent.parse().expect("`{:e}` exponents are integers");
    let length = i32::try_from(digits.len()).expect("at most 17 digits");
    // value = digits * 10^k, and 10^(kk-1) <= value < 10^kk.
    let k = exponent - (length - 1);
    let kk = length + k;
    if (0..=21).contains(&kk) && k >= 0 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', k as usize));
        out.push_str(".0");
    } else if 0 < kk && kk <= 21 {
        let (int, frac) = digits.split_at(kk as usize);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else if -6 < kk && kk <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-kk) as usize));
        out.push_str(&digits);
    } else {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        write!(out, "e{}", kk - 1).expect("writing to a String");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn double(x: f64) -> String {
        let mut s = String::new();
        write_double(&mut s, x);
        s
    }

    #[test]
    fn doubles_like_rapidjson() {
        assert_eq!(double(2.0), "2.0");
        assert_eq!(double(0.0), "0.0");
        assert_eq!(double(-0.0), "-0.0");
        assert_eq!(double(-1.5), "-1.5");
        assert_eq!(double(0.1), "0.1");
        assert_eq!(double(0.001), "0.001");
        assert_eq!(double(1234.5678), "1234.5678");
        assert_eq!(double(15.0), "15.0");
        assert_eq!(double(1605539000.12), "1605539000.12");
        assert_eq!(double(1e20), "100000000000000000000.0");
        assert_eq!(double(1e21), "1e21");
        assert_eq!(double(1.5e22), "1.5e22");
        assert_eq!(double(0.000001), "0.000001");
        assert_eq!(double(1e-7), "1e-7");
        assert_eq!(double(1.25e-7), "1.25e-7");
        assert_eq!(double(f64::from(0.1f32)), "0.10000000149011612");
        assert_eq!(double(f64::INFINITY), "\"Infinity\"");
        assert_eq!(double(f64::NEG_INFINITY), "\"-Infinity\"");
        assert_eq!(double(f64::NAN), "NaN");
    }

    #[test]
    fn doubles_round_trip_through_serde_json() {
        for x in [
            0.1,
            1.0 / 3.0,
            123.456e10,
            9.999e-5,
            1e300,
            5e-324,
            f64::MAX,
        ] {
            let text = double(x);
            assert_eq!(text.parse::<f64>().unwrap(), x, "{text}");
        }
    }

    #[test]
    fn strings_are_ascii() {
        let mut s = String::new();
        write_string(&mut s, "a\"b\\c\nd\u{1}é€😀/\u{7f}");
        assert_eq!(
            s,
            r#""a\"b\\c\nd\u0001\u00E9\u20AC\uD83D\uDE00/"#.to_owned() + "\u{7f}\""
        );
    }
}
