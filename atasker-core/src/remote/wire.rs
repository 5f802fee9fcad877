//! The fields of task and reply entries (see `broker.rs` for the keys), and how a task's
//! outcome crosses: a value as the bincode bytes the child wrote, an error as its kind and
//! text, so that the submitter sees the same [`TaskError`] as for a local static task.

use crate::error::TaskError;
use redis::Value;
use std::collections::HashMap;
use std::time::Duration;

/// A task entry, parsed by a node.
pub(crate) struct Incoming {
    pub(crate) tid: String,
    pub(crate) reply_to: String,
    pub(crate) name: String,
    pub(crate) args: Vec<u8>,
    pub(crate) timeout: Option<Duration>,
    /// How long its producer keeps its reply stream (`rt`), which the answer renews.
    pub(crate) reply_ttl: Option<Duration>,
    /// Deliveries of this entry that ended without an answer (a node stopped).
    pub(crate) deliveries: u32,
    /// Its retries (`rn` left, `rb`, `rx`) and how many runs it had (`ra`), if it has any.
    pub(crate) retry: Option<(crate::backoff::Retry, u32)>,
    /// Its fleet-wide limit (`lm`), if it has one.
    pub(crate) limit: Option<u32>,
}

fn bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

pub(crate) fn text(fields: &HashMap<String, Value>, f: &str) -> Option<String> {
    bytes(fields.get(f)?).and_then(|b| std::str::from_utf8(b).ok().map(str::to_owned))
}

/// Where the answer to an entry goes, if the entry names it (even a malformed one).
pub(crate) fn reply_address(fields: &HashMap<String, Value>) -> Option<(String, String)> {
    Some((text(fields, "r")?, text(fields, "t")?))
}

/// Parses a task entry; `Err` says what is wrong with it.
pub(crate) fn incoming(fields: &HashMap<String, Value>) -> Result<Incoming, String> {
    let need = |f: &str, what: &str| text(fields, f).ok_or_else(|| format!("no {what} (`{f}`)"));
    let tid = need("t", "task id")?;
    let reply_to = need("r", "reply stream")?;
    let name = need("n", "task name")?;
    let args = fields
        .get("a")
        .and_then(bytes)
        .ok_or("no arguments (`a`)")?
        .to_vec();
    let number = |f: &str| -> Result<Option<u64>, String> {
        text(fields, f)
            .map(|s| {
                s.parse::<u64>()
                    .map_err(|_| format!("`{f}` is not a number"))
            })
            .transpose()
    };
    Ok(Incoming {
        tid,
        reply_to,
        name,
        args,
        timeout: number("to")?.map(Duration::from_millis),
        reply_ttl: number("rt")?.map(Duration::from_millis),
        deliveries: u32::try_from(number("d")?.unwrap_or(0)).unwrap_or(u32::MAX),
        retry: retry(&number)?,
        limit: number("lm")?.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
    })
}

/// A task entry's retries: `rn` left (none: no retries), `rb` and `rx` in ms, `ra` runs.
fn retry(
    number: &dyn Fn(&str) -> Result<Option<u64>, String>,
) -> Result<Option<(crate::backoff::Retry, u32)>, String> {
    let Some(left) = number("rn")? else {
        return Ok(None);
    };
    let count = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    let policy = crate::backoff::Retry {
        retries: count(left),
        backoff: Duration::from_millis(number("rb")?.unwrap_or(1000)),
        backoff_max: Duration::from_millis(number("rx")?.unwrap_or(600_000)),
    };
    Ok(Some((policy, count(number("ra")?.unwrap_or(0)))))
}

/// The fields of a final reply (`t` is added by the caller).
pub(crate) fn reply(result: Result<Vec<u8>, TaskError>) -> Vec<(&'static str, Vec<u8>)> {
    let (kind, message) = match result {
        Ok(v) => return vec![("k", b"o".to_vec()), ("v", v)],
        Err(TaskError::Panicked { message }) => ("panicked", message),
        Err(TaskError::Cancelled) => ("cancelled", String::new()),
        Err(TaskError::TimedOut) => ("timed_out", String::new()),
        Err(TaskError::ProcessExited { code, signal }) => {
            let n = |x: Option<i32>| x.map_or(String::new(), |x| x.to_string());
            ("exited", format!("{}:{}", n(code), n(signal)))
        }
        Err(TaskError::Codec(m)) => ("codec", m),
        Err(TaskError::SupervisorStopped) => ("stopped", String::new()),
        Err(TaskError::Unavailable(m)) => ("unavailable", m),
        Err(TaskError::Consumed) => ("cluster", "the node lost the result".into()),
        Err(TaskError::Cluster(m)) => ("cluster", m),
    };
    vec![
        ("k", b"e".to_vec()),
        ("c", kind.as_bytes().to_vec()),
        ("m", message.into_bytes()),
    ]
}

/// What a reply entry says.
pub(crate) enum Answer {
    /// The tasks (ids) started on a node.
    Started(Vec<u64>),
    /// The task was queued again (its node went silent) as this entry.
    Moved(u64, String),
    /// A task's result.
    Done(u64, Result<Vec<u8>, TaskError>),
}

/// Parses a reply entry; `None` if it is not one of ours.
pub(crate) fn answer(mut fields: HashMap<String, Value>) -> Option<Answer> {
    let kind = text(&fields, "k")?;
    let tids = text(&fields, "t")?;
    if kind == "s" {
        return Some(Answer::Started(
            tids.split(',').filter_map(|t| t.parse().ok()).collect(),
        ));
    }
    let tid = tids.parse().ok()?;
    if kind == "m" {
        return Some(Answer::Moved(tid, text(&fields, "i")?));
    }
    if kind == "o" {
        let v = match fields.remove("v")? {
            Value::BulkString(b) => b,
            _ => return None,
        };
        return Some(Answer::Done(tid, Ok(v)));
    }
    let message = text(&fields, "m").unwrap_or_default();
    let e = match text(&fields, "c")?.as_str() {
        "panicked" => TaskError::Panicked { message },
        "cancelled" => TaskError::Cancelled,
        "timed_out" => TaskError::TimedOut,
        "exited" => {
            let mut parts = message.split(':').map(|x| x.parse::<i32>().ok());
            TaskError::ProcessExited {
                code: parts.next().flatten(),
                signal: parts.next().flatten(),
            }
        }
        "codec" => TaskError::Codec(message),
        "unavailable" => TaskError::Unavailable(message),
        "stopped" => TaskError::Cluster("the node stopped before the task could start".into()),
        _ => TaskError::Cluster(message),
    };
    Some(Answer::Done(tid, Err(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: Vec<(&'static str, Vec<u8>)>, tid: &str) -> HashMap<String, Value> {
        let mut m: HashMap<String, Value> = pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Value::BulkString(v)))
            .collect();
        m.insert("t".into(), Value::BulkString(tid.as_bytes().to_vec()));
        m
    }

    #[test]
    fn every_outcome_crosses_as_itself() {
        let outcomes = [
            Ok(vec![1, 2, 3]),
            Err(TaskError::Panicked {
                message: "boom".into(),
            }),
            Err(TaskError::TimedOut),
            Err(TaskError::Cancelled),
            Err(TaskError::ProcessExited {
                code: None,
                signal: Some(9),
            }),
            Err(TaskError::ProcessExited {
                code: Some(3),
                signal: None,
            }),
            Err(TaskError::Codec("bad".into())),
            Err(TaskError::Unavailable("none".into())),
            Err(TaskError::Cluster("lost".into())),
        ];
        for o in outcomes {
            let Some(Answer::Done(7, back)) = answer(fields(reply(o.clone()), "7")) else {
                panic!("{o:?} did not parse back");
            };
            assert_eq!(back, o);
        }
    }

    #[test]
    fn started_lists_many_tasks_and_junk_is_refused() {
        let m = fields(vec![("k", b"s".to_vec())], "1,2,x,3");
        assert!(matches!(answer(m), Some(Answer::Started(t)) if t == [1, 2, 3]));
        let m = fields(vec![("k", b"m".to_vec()), ("i", b"5-0".to_vec())], "4");
        assert!(matches!(answer(m), Some(Answer::Moved(4, i)) if i == "5-0"));
        assert!(answer(fields(vec![], "1")).is_none());
        assert!(answer(fields(vec![("k", b"o".to_vec())], "1")).is_none());
        assert!(answer(fields(vec![("k", b"o".to_vec())], "one")).is_none());
    }

    #[test]
    fn a_task_entry_says_what_it_lacks() {
        let full = |skip: &str| {
            let mut m = HashMap::new();
            for (k, v) in [("t", "1"), ("r", "ns:r:p"), ("n", "app::f"), ("a", "")] {
                if k != skip {
                    m.insert(k.to_owned(), Value::BulkString(v.as_bytes().to_vec()));
                }
            }
            m
        };
        assert!(incoming(&full("")).is_ok());
        assert_eq!(incoming(&full("n")).err().unwrap(), "no task name (`n`)");
        assert_eq!(incoming(&full("a")).err().unwrap(), "no arguments (`a`)");
        let mut m = full("");
        m.insert("to".into(), Value::BulkString(b"soon".to_vec()));
        assert_eq!(incoming(&m).err().unwrap(), "`to` is not a number");
    }
}
