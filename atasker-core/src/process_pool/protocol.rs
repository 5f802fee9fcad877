//! The wire protocol between a parent and its children, and the codec: the only module that
//! knows how bytes look on the pipes.
//!
//! Every message is a frame: a `u32` little-endian length, then that many body bytes.
//!
//! ```text
//! hello    (child → parent, once)  len | b"ATSK" | u32 version | u32 entries | u64 names hash
//! request  (parent → child)        len | u32 entry index | argument tuple (bincode)
//! reply    (child → parent)        len | u8 status | payload
//!          status 0 ok: the result (bincode)          1 error: a UTF-8 message
//!                 2 panicked: the panic message       3 fatal: panicked and the child exits
//!                 4 skipped: withdrawn before it started (empty payload)
//! ```
//!
//! Requests are answered in the order they were sent, one reply each; the parent may send
//! several before the first is answered (a window, see `driver.rs`). Whether a request sent
//! ahead may still start is decided in shared memory, not on the pipes (see `claims.rs`).
//!
//! Both sides refuse a frame longer than [`MAX_FRAME`] before reading its body, and read a
//! body in steps as it arrives, so a corrupt length never makes a side allocate it.
//! The codec is bincode 2 in serde mode, `config::standard()` with a byte limit of
//! [`MAX_FRAME`]; a decode must consume every byte of its payload.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::{self, Read, Write};

/// Bumped whenever frames or the codec change; checked in the handshake.
pub(crate) const PROTOCOL_VERSION: u32 = 2;

/// The largest frame body either side accepts (64 MiB).
pub(crate) const MAX_FRAME: usize = 64 << 20;
// The messages name the limit as "64 MiB".
const _: () = assert!(MAX_FRAME == 64 * 1024 * 1024);

const MAGIC: [u8; 4] = *b"ATSK";
const HELLO_BODY: usize = 20;

/// Bodies up to this size are read with one `read_exact` into a buffer sized at once; longer
/// ones grow as their bytes arrive.
const EAGER_BODY: usize = 64 << 10;

fn config() -> bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<MAX_FRAME>,
> {
    bincode::config::standard().with_limit::<MAX_FRAME>()
}

/// Why a frame could not be read or used.
#[derive(Debug)]
pub(crate) enum FrameError {
    /// The pipe failed (or ended inside a frame: `UnexpectedEof`).
    Io(io::Error),
    /// The length prefix announces more than the maximum; nothing was allocated for it.
    TooLarge(u64),
    /// The frame's content is not what the protocol allows.
    Malformed(&'static str),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Io(e) => write!(f, "pipe error: {e}"),
            FrameError::TooLarge(n) => {
                write!(
                    f,
                    "frame of {n} bytes is larger than the maximum of {MAX_FRAME} (64 MiB)"
                )
            }
            FrameError::Malformed(what) => write!(f, "malformed frame: {what}"),
        }
    }
}

impl From<io::Error> for FrameError {
    fn from(e: io::Error) -> Self {
        FrameError::Io(e)
    }
}

/// Reads one frame body into `buf` (replacing its contents). `Ok(false)`: the stream ended
/// cleanly before a new frame.
pub(crate) fn read_frame(r: &mut impl Read, buf: &mut Vec<u8>) -> Result<bool, FrameError> {
    read_frame_max(r, buf, MAX_FRAME)
}

/// [`read_frame`] with an explicit maximum body size.
pub(crate) fn read_frame_max(
    r: &mut impl Read,
    buf: &mut Vec<u8>,
    max: usize,
) -> Result<bool, FrameError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < len.len() {
        match r.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let len = u32::from_le_bytes(len);
    let n = usize::try_from(len).map_err(|_| FrameError::TooLarge(len.into()))?;
    if n > max {
        return Err(FrameError::TooLarge(len.into()));
    }
    buf.clear();
    if n <= EAGER_BODY {
        buf.resize(n, 0);
        r.read_exact(buf)?;
    } else {
        // Grow with the bytes that actually arrive, not with the announced length.
        let read = r.take(len.into()).read_to_end(buf)?;
        if read != n {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
        }
    }
    Ok(true)
}

/// Whether `buf` starts with a whole frame (its length prefix and every byte of its body).
pub(crate) fn whole_frame(buf: &[u8]) -> bool {
    match buf.first_chunk::<4>() {
        Some(len) => usize::try_from(u32::from_le_bytes(*len)).is_ok_and(|n| buf.len() - 4 >= n),
        None => false,
    }
}

/// Gives back the memory of a buffer that once held a large frame.
pub(crate) fn trim(buf: &mut Vec<u8>) {
    const KEEP: usize = 1 << 20;
    if buf.capacity() > KEEP {
        buf.clear();
        buf.shrink_to(KEEP);
    }
}

/// Writes the length prefix of a frame built in `buf` (whose first 4 bytes are reserved).
fn seal(buf: &mut [u8]) -> Result<(), String> {
    let body = buf.len() - 4;
    if body > MAX_FRAME {
        return Err(format!(
            "the frame of {body} bytes is larger than the maximum of {MAX_FRAME} (64 MiB)"
        ));
    }
    let len = u32::try_from(body).map_err(|_| "frame too large".to_owned())?;
    buf[..4].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

/// Appends a request frame to `buf`: the header, then `encode_args` appends the arguments.
/// On an error `buf` is left as it was.
pub(crate) fn request(
    buf: &mut Vec<u8>,
    index: u32,
    encode_args: impl FnOnce(&mut Vec<u8>) -> Result<(), String>,
) -> Result<(), String> {
    let start = buf.len();
    buf.extend_from_slice(&[0; 4]);
    buf.extend_from_slice(&index.to_le_bytes());
    let r = encode_args(buf).and_then(|()| seal(&mut buf[start..]));
    if r.is_err() {
        buf.truncate(start);
    }
    r
}

/// Splits a request body into the entry index and the argument bytes.
pub(crate) fn parse_request(body: &[u8]) -> Result<(u32, &[u8]), FrameError> {
    match body.split_first_chunk::<4>() {
        Some((index, args)) => Ok((u32::from_le_bytes(*index), args)),
        None => Err(FrameError::Malformed("request shorter than its header")),
    }
}

/// What a reply frame says.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
#[repr(u8)]
pub(crate) enum Status {
    /// The payload is the encoded result.
    Ok = 0,
    /// The payload is a message: the arguments or the result could not cross.
    Error = 1,
    /// The payload is the panic message; the child serves on.
    Panicked = 2,
    /// The payload is the panic message; the child is going down (a `panic = "abort"` build).
    Fatal = 3,
    /// The request was withdrawn before it started; no payload.
    Skipped = 4,
}

/// A decoded reply body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reply<'a> {
    Ok(&'a [u8]),
    Error(String),
    Panicked(String),
    Fatal(String),
    Skipped,
}

/// Starts a reply frame in `buf`; append the payload, then call [`seal_reply`].
pub(crate) fn start_reply(buf: &mut Vec<u8>, status: Status) {
    buf.clear();
    buf.extend_from_slice(&[0; 4]);
    buf.push(status as u8);
}

/// Finishes a reply frame; a payload over the maximum becomes an error reply.
pub(crate) fn seal_reply(buf: &mut Vec<u8>) {
    if let Err(e) = seal(buf) {
        error_reply(buf, Status::Error, &e);
    }
}

/// A whole reply frame carrying a message.
pub(crate) fn error_reply(buf: &mut Vec<u8>, status: Status, message: &str) {
    start_reply(buf, status);
    // Keep a message well under the maximum whatever it says.
    let mut end = message.len().min(64 << 10);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    buf.extend_from_slice(&message.as_bytes()[..end]);
    // A message this short always fits.
    let _ = seal(buf);
}

/// Parses a reply body.
pub(crate) fn parse_reply(body: &[u8]) -> Result<Reply<'_>, FrameError> {
    let Some((&status, payload)) = body.split_first() else {
        return Err(FrameError::Malformed("empty reply"));
    };
    let text = || String::from_utf8_lossy(payload).into_owned();
    Ok(match status {
        0 => Reply::Ok(payload),
        1 => Reply::Error(text()),
        2 => Reply::Panicked(text()),
        3 => Reply::Fatal(text()),
        4 => Reply::Skipped,
        _ => return Err(FrameError::Malformed("unknown reply status")),
    })
}

/// What a child announces before it serves.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) struct Hello {
    pub(crate) version: u32,
    pub(crate) entries: u32,
    pub(crate) names_hash: u64,
}

/// Builds the hello frame in `buf`.
pub(crate) fn hello(buf: &mut Vec<u8>, h: Hello) {
    buf.clear();
    buf.extend_from_slice(&(HELLO_BODY as u32).to_le_bytes());
    buf.extend_from_slice(&MAGIC);
    buf.extend_from_slice(&h.version.to_le_bytes());
    buf.extend_from_slice(&h.entries.to_le_bytes());
    buf.extend_from_slice(&h.names_hash.to_le_bytes());
}

/// Parses a hello body.
pub(crate) fn parse_hello(body: &[u8]) -> Result<Hello, FrameError> {
    let Some(b) = body
        .first_chunk::<HELLO_BODY>()
        .filter(|_| body.len() == HELLO_BODY)
    else {
        return Err(FrameError::Malformed("hello of the wrong size"));
    };
    if b[..4] != MAGIC {
        return Err(FrameError::Malformed("not an atasker child"));
    }
    let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let mut hash = [0u8; 8];
    hash.copy_from_slice(&b[12..20]);
    Ok(Hello {
        version: u32_at(4),
        entries: u32_at(8),
        names_hash: u64::from_le_bytes(hash),
    })
}

/// FNV-1a over the names, each followed by a zero byte.
pub(crate) fn names_hash<'a>(names: impl IntoIterator<Item = &'a str>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for name in names {
        for &b in name.as_bytes().iter().chain(&[0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// A `Write` into a vector that refuses to grow past `max` bytes in total.
struct Bounded<'a> {
    buf: &'a mut Vec<u8>,
    max: usize,
}

impl Write for Bounded<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > self.max {
            return Err(io::Error::other(
                "the value is larger than the frame maximum of 64 MiB",
            ));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Appends `value`, encoded, to `out`, which may hold at most a frame header more than
/// [`MAX_FRAME`] bytes in total.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), String> {
    let max = MAX_FRAME + 4;
    let start = out.len();
    let mut w = Bounded { buf: out, max };
    match bincode::serde::encode_into_std_write(value, &mut w, config()) {
        Ok(_) => Ok(()),
        Err(e) => {
            out.truncate(start);
            Err(format!(
                "cannot encode a `{}`: {e}",
                std::any::type_name::<T>()
            ))
        }
    }
}

/// Decodes a `T` from all of `bytes`: bytes left over are an error.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    match bincode::serde::decode_from_slice::<T, _>(bytes, config()) {
        Ok((v, used)) if used == bytes.len() => Ok(v),
        Ok((_, used)) => Err(format!(
            "cannot decode a `{}`: {} of {} bytes left over",
            std::any::type_name::<T>(),
            bytes.len() - used,
            bytes.len()
        )),
        Err(e) => Err(format!(
            "cannot decode a `{}`: {e}",
            std::any::type_name::<T>()
        )),
    }
}

#[cfg(test)]
mod tests;
