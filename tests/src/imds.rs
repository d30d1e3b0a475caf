//! The EC2 instance metadata service (IMDS) as a worker on a Spot instance sees it: moto's,
//! through a small relay on 127.0.0.1 that
//! 1. adds the `X-aws-ec2-metadata-token-ttl-seconds` header moto leaves off its token
//!    answer (the AWS SDK refuses a token without it; EC2 always sends it), and
//! 2. when started with `spot`, answers the paths moto does not serve: the interruption
//!    notice `spot/instance-action` and the rebalance recommendation
//!    `events/recommendations/rebalance`, each 404 until its flag is set, then a notice
//!    worded as EC2 words it. Without `spot` those paths go to moto, which fails them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A running relay.
pub struct Imds {
    /// Its address, for `AWS_EC2_METADATA_SERVICE_ENDPOINT`.
    pub url: String,
    /// Set to make `spot/instance-action` answer an interruption notice.
    pub interruption: Arc<AtomicBool>,
    /// Set to make `events/recommendations/rebalance` answer a recommendation.
    pub rebalance: Arc<AtomicBool>,
}

/// The Spot paths and the notice each answers once its flag is set.
const INTERRUPTION: (&str, &str) = (
    "/latest/meta-data/spot/instance-action",
    r#"{"action": "terminate", "time": "2030-01-01T00:00:00Z"}"#,
);
const REBALANCE: (&str, &str) = (
    "/latest/meta-data/events/recommendations/rebalance",
    r#"{"noticeTime": "2030-01-01T00:00:00Z"}"#,
);

impl Imds {
    /// Starts a relay to the moto server at `moto` (`http://host:port`).
    pub fn start(moto: &str, spot: bool) -> Imds {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let interruption = Arc::new(AtomicBool::new(false));
        let rebalance = Arc::new(AtomicBool::new(false));
        let moto = moto.trim_start_matches("http://").to_owned();
        let flags = (interruption.clone(), rebalance.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let moto = moto.clone();
                let answers = spot.then(|| {
                    [
                        (INTERRUPTION, flags.0.load(Ordering::SeqCst)),
                        (REBALANCE, flags.1.load(Ordering::SeqCst)),
                    ]
                });
                std::thread::spawn(move || relay(client, &moto, answers));
            }
        });
        Imds {
            url,
            interruption,
            rebalance,
        }
    }
}

/// Relays one request to moto, or answers one of the Spot `answers` itself: the notice
/// when its flag was set, else 404.
fn relay(mut client: TcpStream, moto: &str, answers: Option<[((&str, &str), bool); 2]>) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut head = Vec::new();
    let (mut length, mut ttl) = (0, String::from("21600"));
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
        if let Some(value) = lower.strip_prefix("x-aws-ec2-metadata-token-ttl-seconds:") {
            ttl = value.trim().to_owned();
        }
        if !lower.starts_with("connection:") {
            head.push(line);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let answer = answers
        .into_iter()
        .flatten()
        .find(|((path, _), _)| head[0].split(' ').nth(1) == Some(path));
    if let Some(((_, notice), set)) = answer {
        let (status, text) = if set {
            ("200 OK", notice)
        } else {
            ("404 Not Found", "")
        };
        let _ = write!(
            client,
            "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{text}",
            text.len()
        );
        return;
    }
    let mut upstream = TcpStream::connect(moto).unwrap();
    let request = format!("{}Connection: close\r\n\r\n", head.concat());
    upstream.write_all(request.as_bytes()).unwrap();
    upstream.write_all(&body).unwrap();
    let mut answer = Vec::new();
    let _ = upstream.read_to_end(&mut answer);
    if head[0].contains("/latest/api/token") {
        let end = answer.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
        let header = format!("X-aws-ec2-metadata-token-ttl-seconds: {ttl}\r\n");
        answer.splice(end..end, header.into_bytes());
    }
    let _ = client.write_all(&answer);
}
