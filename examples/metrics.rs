//! Metrics for Prometheus: atasker's `metrics` feature records through the `metrics` crate
//! facade, `metrics-exporter-prometheus` renders them, and a few lines of std serve them on
//! `http://127.0.0.1:PORT/metrics`.
//!
//! ```sh
//! cargo run --example metrics --features metrics            # runs a little work, scrapes once
//! ATASKER_METRICS_SERVE=60 cargo run --example metrics --features metrics   # and serves 60 s
//! ```
//!
//! Durations are histograms; without buckets the Prometheus exporter renders them as
//! summaries, so the example gives buckets to every `…_seconds` metric.

use atasker::prelude::*;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

#[background_task]
fn resize(px: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(px % 7));
    px / 2
}

#[background_task(priority = Priority::High)]
async fn fetch(n: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(n % 5)).await;
    n
}

#[background_worker(interval = 0.1)]
fn poll_sensor() {}

/// Serves `GET /metrics` (any path, in fact) from `handle` on a loopback port, one connection
/// at a time, on a thread of its own.
fn serve(handle: PrometheusHandle) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let _ = answer(conn, &handle);
        }
    });
    Ok(addr)
}

fn answer(mut conn: TcpStream, handle: &PrometheusHandle) -> std::io::Result<()> {
    // Read the request head; the body of a GET is empty.
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let body = handle.render();
    write!(
        conn,
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// What a scraper sees at `addr`.
fn scrape(addr: SocketAddr) -> std::io::Result<String> {
    let mut conn = TcpStream::connect(addr)?;
    write!(conn, "GET /metrics HTTP/1.1\r\nhost: {addr}\r\n\r\n")?;
    let mut response = String::new();
    conn.read_to_string(&mut response)?;
    Ok(response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("_seconds".into()),
            &[0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0],
        )?
        .install_recorder()?;
    let addr = serve(handle)?;
    println!("serving http://{addr}/metrics");

    poll_sensor.start();
    let sizes: Vec<Task<u64>> = (0..50).map(resize).collect();
    let fetched: Vec<Task<u64>> = (0..50).map(fetch).collect();
    atasker::wait_completed(sizes, None)?;
    atasker::wait_completed(fetched, None)?;
    std::thread::sleep(Duration::from_millis(350));
    poll_sensor.stop();

    for line in scrape(addr)?.lines() {
        if line.starts_with("atasker_tasks_total") || line.starts_with("atasker_worker_runs_total")
        {
            println!("{line}");
        }
    }
    let serve_for: u64 = std::env::var("ATASKER_METRICS_SERVE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if serve_for > 0 {
        println!("serving for {serve_for} s");
        std::thread::sleep(Duration::from_secs(serve_for));
    }
    Supervisor::global().stop();
    Ok(())
}
