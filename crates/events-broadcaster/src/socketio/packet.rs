//! The two wire formats, as text: Engine.IO v4 packets (a type digit, then data) and, inside
//! its `message` packets, Socket.IO v5 packets (a type digit, an optional namespace, an optional
//! acknowledgement id, then JSON). Binary packets are not part of what agentq speaks.

use serde_json::Value;

/// An Engine.IO packet a client sends.
#[derive(Debug, PartialEq, Eq)]
pub enum Engine<'a> {
    Close,
    Ping(&'a str),
    Pong(&'a str),
    Message(&'a str),
    Upgrade,
    Noop,
}

impl<'a> Engine<'a> {
    pub fn parse(text: &'a str) -> Option<Self> {
        let mut chars = text.chars();
        let kind = chars.next()?;
        let data = chars.as_str();
        Some(match kind {
            '1' => Self::Close,
            '2' => Self::Ping(data),
            '3' => Self::Pong(data),
            '4' => Self::Message(data),
            '5' => Self::Upgrade,
            '6' => Self::Noop,
            _ => return None,
        })
    }
}

/// Engine.IO's separator of packets in one polling body.
pub const RECORD_SEPARATOR: char = '\u{1e}';

pub const PING: &str = "2";
pub const CLOSE: &str = "1";
pub const NOOP: &str = "6";

/// The `open` packet: the session's id and its heartbeat.
pub fn open(sid: &str, upgrades: bool, ping_ms: u128, max_payload: usize) -> String {
    let upgrades = if upgrades { r#"["websocket"]"# } else { "[]" };
    format!(
        r#"0{{"sid":"{sid}","upgrades":{upgrades},"pingInterval":{ping_ms},"pingTimeout":{ping_ms},"maxPayload":{max_payload}}}"#
    )
}

/// A Socket.IO packet a client sends (inside an Engine.IO message).
#[derive(Debug, PartialEq)]
pub enum Socket {
    /// `0[/ns,][{auth}]`
    Connect {
        namespace: String,
        auth: Option<Value>,
    },
    /// `1[/ns,]`
    Disconnect,
    /// `2[/ns,][ack id][name, args…]`
    Event {
        namespace: String,
        ack: Option<u64>,
        name: String,
        args: Vec<Value>,
    },
    /// `3…`: the answer to an acknowledgement the server asked for (it asks for none).
    Ack,
    /// `5…`/`6…`: binary events and acknowledgements.
    Binary,
}

impl Socket {
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let mut chars = text.chars();
        let kind = chars.next().ok_or("empty packet")?;
        let rest = chars.as_str();
        let (namespace, rest) = match rest.strip_prefix('/') {
            Some(_) => match rest.split_once(',') {
                Some((namespace, rest)) => (namespace.to_owned(), rest),
                None => (rest.to_owned(), ""),
            },
            None => ("/".to_owned(), rest),
        };
        match kind {
            '0' => {
                let auth = if rest.is_empty() {
                    None
                } else {
                    Some(
                        serde_json::from_str(rest)
                            .map_err(|_| "the connect payload is not JSON")?,
                    )
                };
                Ok(Self::Connect { namespace, auth })
            }
            '1' => Ok(Self::Disconnect),
            '2' => {
                let digits = rest
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(rest.len());
                let (id, json) = rest.split_at(digits);
                let ack = if id.is_empty() {
                    None
                } else {
                    Some(id.parse().map_err(|_| "bad acknowledgement id")?)
                };
                let mut items: Vec<Value> =
                    serde_json::from_str(json).map_err(|_| "an event is a JSON array")?;
                if items.is_empty() {
                    return Err("an event needs a name");
                }
                let Value::String(name) = items.remove(0) else {
                    return Err("an event's name is a string");
                };
                Ok(Self::Event {
                    namespace,
                    ack,
                    name,
                    args: items,
                })
            }
            '3' => Ok(Self::Ack),
            '5' | '6' => Ok(Self::Binary),
            _ => Err("unknown packet type"),
        }
    }
}

/// `40{"sid":…}`: the namespace `/` accepted the connection.
pub fn connected(sid: &str) -> String {
    format!(r#"40{{"sid":"{sid}"}}"#)
}

/// `44[/ns,]{"message":…}`: a refused connection, with why.
pub fn connect_error(namespace: &str, message: &str) -> String {
    let body = serde_json::json!({ "message": message });
    if namespace == "/" {
        format!("44{body}")
    } else {
        format!("44{namespace},{body}")
    }
}

/// `41`: the server ends the Socket.IO session (the client does not reconnect by itself).
pub const DISCONNECT: &str = "41";

/// `42["name",data]`, with `data` already JSON.
pub fn event(name: &str, data: &str) -> String {
    // event names are agentq's own: plain ASCII, nothing to escape
    format!(r#"42["{name}",{data}]"#)
}

/// `43<id>[data]`: the answer to a client's acknowledgement request.
pub fn ack(id: u64, data: &Value) -> String {
    format!("43{id}[{data}]")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn engine_packets_parse_by_their_first_digit() {
        assert_eq!(Engine::parse("2probe"), Some(Engine::Ping("probe")));
        assert_eq!(Engine::parse("3"), Some(Engine::Pong("")));
        assert_eq!(Engine::parse("40"), Some(Engine::Message("0")));
        assert_eq!(Engine::parse("5"), Some(Engine::Upgrade));
        assert_eq!(Engine::parse("1"), Some(Engine::Close));
        for bad in ["", "7", "x", "0{}"] {
            assert_eq!(Engine::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn socket_packets_parse_with_namespaces_auth_and_ack_ids() {
        assert_eq!(
            Socket::parse("0"),
            Ok(Socket::Connect {
                namespace: "/".into(),
                auth: None
            })
        );
        assert_eq!(
            Socket::parse(r#"0{"token":"t"}"#),
            Ok(Socket::Connect {
                namespace: "/".into(),
                auth: Some(json!({"token": "t"}))
            })
        );
        assert_eq!(
            Socket::parse(r#"0/admin,{"token":"t"}"#),
            Ok(Socket::Connect {
                namespace: "/admin".into(),
                auth: Some(json!({"token": "t"}))
            })
        );
        assert_eq!(
            Socket::parse(r#"212["subscribe","project:7"]"#),
            Ok(Socket::Event {
                namespace: "/".into(),
                ack: Some(12),
                name: "subscribe".into(),
                args: vec![json!("project:7")],
            })
        );
        assert_eq!(
            Socket::parse(r#"2["ping"]"#),
            Ok(Socket::Event {
                namespace: "/".into(),
                ack: None,
                name: "ping".into(),
                args: vec![],
            })
        );
        assert_eq!(Socket::parse("1"), Ok(Socket::Disconnect));
        assert_eq!(Socket::parse("51-[\"x\"]"), Ok(Socket::Binary));
        for bad in [
            "",
            "2",
            "2[]",
            "2[1]",
            "2{}",
            "299999999999999999999999[\"x\"]",
            "0{",
            "9",
        ] {
            assert!(Socket::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn server_packets_are_what_socket_io_client_reads() {
        assert_eq!(
            open("abc", true, 20_000, 65_536),
            r#"0{"sid":"abc","upgrades":["websocket"],"pingInterval":20000,"pingTimeout":20000,"maxPayload":65536}"#
        );
        assert_eq!(connected("s1"), r#"40{"sid":"s1"}"#);
        assert_eq!(
            connect_error("/", "Invalid \"token\""),
            r#"44{"message":"Invalid \"token\""}"#
        );
        assert_eq!(
            connect_error("/admin", "Invalid namespace"),
            r#"44/admin,{"message":"Invalid namespace"}"#
        );
        assert_eq!(
            event("agent_job_queued", r#"{"jobId":"x"}"#),
            r#"42["agent_job_queued",{"jobId":"x"}]"#
        );
        assert_eq!(ack(3, &json!({"ok": true})), r#"433[{"ok":true}]"#);
    }
}
