//! The dashboard endpoints' query strings: `key=value&...`, percent-decoded.

/// Parsed `?a=b&c=d` pairs, in order.
#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(text: &str) -> Query {
        Query(
            text.split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode(key), decode(value))
                })
                .collect(),
        )
    }

    /// The first non-empty value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    /// `key` as a number within `lo..=hi`, else `default`.
    pub fn number(&self, key: &str, default: u64, lo: u64, hi: u64) -> u64 {
        self.get(key).and_then(|v| v.parse::<u64>().ok()).map_or(default, |n| n.clamp(lo, hi))
    }
}

/// Decodes `%XX` and `+`; malformed escapes are kept as they are, invalid UTF-8 replaced.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_pairs() {
        let q = Query::parse("route=auto&model=sim%2Dsmall&x=a+b&empty=&limit=5000&bad=%zz&tail=%4");
        assert_eq!(q.get("route"), Some("auto"));
        assert_eq!(q.get("model"), Some("sim-small"));
        assert_eq!(q.get("x"), Some("a b"));
        assert_eq!(q.get("empty"), None);
        assert_eq!(q.get("bad"), Some("%zz"));
        assert_eq!(q.get("tail"), Some("%4"));
        assert_eq!(q.number("limit", 100, 1, 500), 500);
        assert_eq!(q.number("missing", 100, 1, 500), 100);
    }
}
