//! Arguments and results of a static task hold at most 64 MiB each: a larger one fails the
//! task with `TaskError::Codec` saying so, and the pool serves on.

#[macro_use]
mod process_common;

use atasker::{Priority, TaskError};
use process_common::*;

static_task! {
    fn length(bytes: Vec<u8>) -> usize {
        bytes.len()
    }
}

static_task! {
    fn make(n: usize) -> Vec<u8> {
        vec![7; n]
    }
}

fn codec_message(r: Result<impl std::fmt::Debug, TaskError>) -> String {
    match r {
        Err(TaskError::Codec(msg)) => msg,
        other => panic!("expected a codec error, got {other:?}"),
    }
}

#[test]
fn an_argument_over_64_mib_is_a_codec_error() {
    let sup = supervisor("frames-args", 1);
    let msg = codec_message(length(on(sup, Priority::Normal), vec![0; 65 << 20]).wait());
    assert!(msg.contains("64 MiB"), "{msg}");
    assert_eq!(
        length(on(sup, Priority::Normal), vec![1; 1 << 20]).wait(),
        Ok(1 << 20)
    );
}

#[test]
fn a_result_over_64_mib_is_a_codec_error() {
    let sup = supervisor("frames-result", 1);
    let msg = codec_message(make(on(sup, Priority::Normal), 65 << 20).wait());
    assert!(msg.contains("64 MiB"), "{msg}");
    assert_eq!(make(on(sup, Priority::Normal), 3).wait(), Ok(vec![7; 3]));
}
