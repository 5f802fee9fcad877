//! The protocol's unit tests: round trips of every message, the frame limits, and random
//! streams.

use super::*;
use serde::Deserialize;

/// A reader that yields `head`, then pretends to be a stream of `tail` zero bytes, and
/// counts what was asked of it.
struct Announced {
    head: Vec<u8>,
    pos: usize,
    tail: usize,
}

impl Read for Announced {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.head.len() {
            let n = out.len().min(self.head.len() - self.pos);
            out[..n].copy_from_slice(&self.head[self.pos..self.pos + n]);
            self.pos += n;
            return Ok(n);
        }
        let n = out.len().min(self.tail);
        out[..n].fill(0);
        self.tail -= n;
        Ok(n)
    }
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut v = (body.len() as u32).to_le_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

#[test]
fn request_round_trip() {
    let mut buf = Vec::new();
    request(&mut buf, 7, |b| encode(&(40u64, "x".to_owned()), b)).unwrap();
    let mut body = Vec::new();
    assert!(read_frame(&mut &buf[..], &mut body).unwrap());
    let (index, args) = parse_request(&body).unwrap();
    assert_eq!(index, 7);
    assert_eq!(decode::<(u64, String)>(args).unwrap(), (40, "x".to_owned()));
}

#[test]
fn reply_round_trip() {
    let mut buf = Vec::new();
    start_reply(&mut buf, Status::Ok);
    encode(&vec![1u8, 2, 3], &mut buf).unwrap();
    seal_reply(&mut buf);
    let mut body = Vec::new();
    read_frame(&mut &buf[..], &mut body).unwrap();
    let Reply::Ok(payload) = parse_reply(&body).unwrap() else {
        panic!("not ok")
    };
    assert_eq!(decode::<Vec<u8>>(payload).unwrap(), [1, 2, 3]);

    error_reply(&mut buf, Status::Panicked, "boom");
    read_frame(&mut &buf[..], &mut body).unwrap();
    assert_eq!(parse_reply(&body).unwrap(), Reply::Panicked("boom".into()));
}

#[test]
fn hello_round_trip_and_rejects() {
    let h = Hello {
        version: PROTOCOL_VERSION,
        entries: 3,
        names_hash: names_hash(["a", "b"]),
    };
    let mut buf = Vec::new();
    hello(&mut buf, h);
    let mut body = Vec::new();
    read_frame(&mut &buf[..], &mut body).unwrap();
    assert_eq!(parse_hello(&body).unwrap(), h);
    assert!(parse_hello(&body[1..]).is_err());
    body[0] = b'X';
    assert!(parse_hello(&body).is_err());
    assert_ne!(names_hash(["ab"]), names_hash(["a", "b"]));
}

#[test]
fn clean_eof_and_truncation() {
    let mut body = Vec::new();
    assert!(!read_frame(&mut &[][..], &mut body).unwrap());
    // Two of four length bytes.
    let e = read_frame(&mut &[5u8, 0][..], &mut body).unwrap_err();
    assert!(matches!(e, FrameError::Io(ref e) if e.kind() == io::ErrorKind::UnexpectedEof));
    // A body shorter than its length.
    let mut f = frame(b"hello");
    f.truncate(7);
    assert!(matches!(
        read_frame(&mut &f[..], &mut body),
        Err(FrameError::Io(_))
    ));
}

#[test]
fn oversized_length_is_refused_without_allocating() {
    let mut body = Vec::new();
    let mut r = Announced {
        head: u32::MAX.to_le_bytes().to_vec(),
        pos: 0,
        tail: 0,
    };
    let e = read_frame(&mut r, &mut body).unwrap_err();
    assert!(matches!(e, FrameError::TooLarge(n) if n == u64::from(u32::MAX)));
    assert_eq!(
        body.capacity(),
        0,
        "nothing may be allocated for a refused frame"
    );

    let over = (MAX_FRAME as u32 + 1).to_le_bytes();
    assert!(matches!(
        read_frame(&mut &over[..], &mut body),
        Err(FrameError::TooLarge(_))
    ));
    assert_eq!(body.capacity(), 0);
}

#[test]
fn a_large_announced_length_with_few_bytes_grows_only_with_what_arrives() {
    // Announces 60 MiB (under the maximum) but the stream ends after 100 bytes.
    let mut head = (60u32 << 20).to_le_bytes().to_vec();
    head.extend_from_slice(&[1; 100]);
    let mut r = Announced {
        head,
        pos: 0,
        tail: 0,
    };
    let mut body = Vec::new();
    let e = read_frame(&mut r, &mut body).unwrap_err();
    assert!(matches!(e, FrameError::Io(ref e) if e.kind() == io::ErrorKind::UnexpectedEof));
    assert!(body.capacity() < 1 << 20, "grew to {}", body.capacity());
}

#[test]
fn a_large_frame_within_the_maximum_is_read() {
    let n = 3 << 20;
    let mut r = Announced {
        head: (n as u32).to_le_bytes().to_vec(),
        pos: 0,
        tail: n,
    };
    let mut body = Vec::new();
    assert!(read_frame(&mut r, &mut body).unwrap());
    assert_eq!(body.len(), n);
    trim(&mut body);
    assert!(body.capacity() <= 1 << 20);
}

#[test]
fn corrupt_frames_are_refused() {
    assert!(matches!(
        parse_request(&[1, 2]),
        Err(FrameError::Malformed(_))
    ));
    assert!(matches!(parse_reply(&[]), Err(FrameError::Malformed(_))));
    assert!(matches!(
        parse_reply(&[9, 1]),
        Err(FrameError::Malformed(_))
    ));
    // A reply whose payload is not the promised type, or has bytes left over.
    let mut buf = Vec::new();
    encode(&(1u64, 2u64), &mut buf).unwrap();
    assert!(decode::<u64>(&buf).unwrap_err().contains("left over"));
    assert!(decode::<String>(&[200]).is_err());
    // An announced string length past the limit fails without allocating it.
    let mut huge = Vec::new();
    encode(&u64::MAX, &mut huge).unwrap();
    assert!(decode::<Vec<u8>>(&huge).is_err());
}

#[test]
fn shapes_round_trip() {
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    enum Shape {
        Unit,
        Tuple(i32, String),
        Struct { v: Vec<Option<u8>> },
    }
    let v = vec![
        Shape::Unit,
        Shape::Tuple(-1, "é".into()),
        Shape::Struct {
            v: vec![None, Some(3)],
        },
    ];
    let mut buf = Vec::new();
    encode(&v, &mut buf).unwrap();
    assert_eq!(decode::<Vec<Shape>>(&buf).unwrap(), v);
    buf.clear();
    encode(&(), &mut buf).unwrap();
    assert!(buf.is_empty());
    decode::<()>(&buf).unwrap();
}

#[test]
fn oversized_values_are_refused_when_encoding() {
    let big = "x".repeat(MAX_FRAME + 1);
    let mut buf = Vec::new();
    assert!(encode(&big, &mut buf).is_err());
    assert!(buf.is_empty());
}

/// A small deterministic generator (xorshift64*), so the property test needs no crate
/// and every failure is reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Property: whatever bytes arrive (random frames, random announced lengths up to 4 GiB,
/// truncated streams, random bodies), the readers and parsers return errors and never
/// panic, and a frame buffer never grows much beyond the bytes that actually arrived.
#[test]
fn random_streams_never_panic_nor_allocate_what_they_announce() {
    for seed in 1..=3000u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut stream = Vec::new();
        for _ in 0..rng.below(6) + 1 {
            let size = rng.below(200) as usize;
            let body = rng.bytes(size);
            let announced = match rng.below(4) {
                0 => rng.next() as u32,                             // anything, often huge
                1 => body.len() as u32 + rng.below(1 << 20) as u32, // more than sent
                _ => body.len() as u32,                             // honest
            };
            stream.extend_from_slice(&announced.to_le_bytes());
            stream.extend_from_slice(&body);
        }
        stream.truncate(rng.below(stream.len() as u64 + 1) as usize);
        let arrived = stream.len();
        let mut r = io::Cursor::new(stream);
        let mut buf = Vec::new();
        while let Ok(true) = read_frame(&mut r, &mut buf) {
            let _ = parse_request(&buf);
            let _ = parse_reply(&buf);
            let _ = parse_hello(&buf);
            let _ = decode::<(u64, String, Vec<u8>)>(&buf);
            let _ = decode::<Option<(i32, f64)>>(&buf);
            assert!(
                buf.capacity() <= (EAGER_BODY + arrived) * 2,
                "seed {seed}: buffer grew to {} for {arrived} bytes",
                buf.capacity()
            );
        }
        assert!(
            buf.capacity() <= (EAGER_BODY + arrived) * 2,
            "seed {seed}: buffer grew to {} for {arrived} bytes",
            buf.capacity()
        );
    }
}
