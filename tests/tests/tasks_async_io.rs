//! An `async fn` task and an async worker executor can use every tokio facility a
//! `#[tokio::main]` program can: the supervisor's own runtime has every driver enabled.

mod common;

use atasker::prelude::*;
use common::SOON;
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use tokio::io::AsyncWriteExt;

#[background_task]
async fn send(addr: SocketAddr, text: String) -> std::io::Result<()> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(text.as_bytes()).await?;
    stream.shutdown().await
}

fn accept_text(listener: &TcpListener) -> String {
    let (mut conn, _) = listener.accept().unwrap();
    conn.set_read_timeout(Some(SOON)).unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).unwrap();
    text
}

#[test]
fn an_async_task_on_the_default_supervisor_opens_a_socket() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let task = send(listener.local_addr().unwrap(), "hello".into());
    assert_eq!(accept_text(&listener), "hello");
    let mut task = task;
    assert!(matches!(task.wait_timeout(SOON), Some(Ok(Ok(())))));
}

#[test]
fn an_async_task_can_listen_for_signals_and_sleep() {
    let t = atasker::spawn_async(async {
        let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined2());
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        signal.map(drop).map_err(|e| e.to_string())
    });
    assert_eq!(t.wait(), Ok(Ok(())));
}

#[test]
fn an_async_worker_executor_opens_a_socket() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let w = QueueWorker::builder().build_async(move |text: String| async move {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream.write_all(text.as_bytes()).await?;
        stream.shutdown().await
    });
    w.put("from a worker".to_string());
    assert!(w.start());
    assert_eq!(accept_text(&listener), "from a worker");
    common::wait_until("the run is recorded", || w.stats().runs == 1);
    assert_eq!(w.stats().errors, 0);
    w.stop();
}
