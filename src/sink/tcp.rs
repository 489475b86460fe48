//! `TcpSink`: a request/response sink over TCP — each commit sends a small header and the block, then
//! waits for a one-byte ack. It exists to show the Nagle / delayed-ACK stall: with Nagle on, the second
//! small write waits for the ACK of the first, and the receiver delays that ACK (~40 ms on Linux) because
//! it has nothing to send until the whole request has arrived. `TCP_NODELAY`, or one `writev` of header
//! and body, removes the stall. [`AckServer`] is the peer: loopback only, a bounded number of requests.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;

use super::{Sink, SinkCounters};
use crate::error::{SinkError, SysError};

/// How a request goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// `write(header)` then `write(body)`: the pattern that meets Nagle.
    TwoWrites,
    /// One `writev(header, body)`.
    Writev,
}

/// A sink that sends each block to an [`AckServer`] and waits for its ack.
pub struct TcpSink {
    stream: TcpStream,
    mode: WriteMode,
    peer: SocketAddr,
    counters: SinkCounters,
}

fn io_err(op: &'static str, peer: SocketAddr, e: io::Error) -> SinkError {
    SinkError::Io(SysError::new(op, format!("tcp://{peer}"), e))
}

impl TcpSink {
    /// Connect to `peer`, with `TCP_NODELAY` set or not.
    pub fn connect(peer: SocketAddr, nodelay: bool, mode: WriteMode) -> Result<TcpSink, SinkError> {
        let stream = TcpStream::connect(peer).map_err(|e| io_err("connect", peer, e))?;
        stream
            .set_nodelay(nodelay)
            .map_err(|e| io_err("setsockopt", peer, e))?;
        Ok(TcpSink {
            stream,
            mode,
            peer,
            counters: SinkCounters::default(),
        })
    }
}

impl Sink for TcpSink {
    fn commit(&mut self, block: &[u8], records: u32) -> Result<(), SinkError> {
        let header = (block.len() as u32).to_le_bytes();
        match self.mode {
            WriteMode::TwoWrites => {
                self.stream
                    .write_all(&header)
                    .map_err(|e| io_err("write", self.peer, e))?;
                self.stream
                    .write_all(block)
                    .map_err(|e| io_err("write", self.peer, e))?;
                self.counters.write_syscalls += 2;
            }
            WriteMode::Writev => {
                let mut sent = 0;
                let total = header.len() + block.len();
                while sent < total {
                    let bufs = if sent < header.len() {
                        vec![IoSlice::new(&header[sent..]), IoSlice::new(block)]
                    } else {
                        vec![IoSlice::new(&block[sent - header.len()..])]
                    };
                    let n = self
                        .stream
                        .write_vectored(&bufs)
                        .map_err(|e| io_err("writev", self.peer, e))?;
                    self.counters.write_syscalls += 1;
                    sent += n;
                }
            }
        }
        let mut ack = [0u8; 1];
        self.stream
            .read_exact(&mut ack)
            .map_err(|e| io_err("read", self.peer, e))?;
        self.counters.bytes_written += (header.len() + block.len()) as u64;
        self.counters.blocks += 1;
        self.counters.records += records as u64;
        Ok(())
    }

    fn counters(&self) -> SinkCounters {
        self.counters
    }
}

/// A loopback peer that reads length-prefixed requests and answers each with one byte, for at most
/// `max_requests` requests on one connection, then exits.
pub struct AckServer {
    addr: SocketAddr,
    thread: Option<JoinHandle<io::Result<u64>>>,
}

impl AckServer {
    /// Listen on 127.0.0.1 (an ephemeral port).
    pub fn start(max_requests: u64) -> io::Result<AckServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let thread = std::thread::Builder::new()
            .name("ack-server".into())
            .spawn(move || -> io::Result<u64> {
                let (mut s, _) = listener.accept()?;
                let mut buf = Vec::new();
                let mut served = 0;
                while served < max_requests {
                    let mut len = [0u8; 4];
                    match s.read_exact(&mut len) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                        Err(e) => return Err(e),
                    }
                    buf.resize(u32::from_le_bytes(len) as usize, 0);
                    s.read_exact(&mut buf)?;
                    s.write_all(&[1])?;
                    served += 1;
                }
                let _ = s.shutdown(Shutdown::Both);
                Ok(served)
            })?;
        Ok(AckServer {
            addr,
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Wait for it to finish; returns the requests it served.
    pub fn join(mut self) -> io::Result<u64> {
        self.thread
            .take()
            .expect("joined once")
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("ack server panicked")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::BlockBuilder;

    #[test]
    fn requests_are_acked_in_both_write_modes() {
        for mode in [WriteMode::TwoWrites, WriteMode::Writev] {
            let server = AckServer::start(3).unwrap();
            let mut sink = TcpSink::connect(server.addr(), true, mode).unwrap();
            let mut b = BlockBuilder::with_capacity(256);
            b.push(&[b'x'; 100]);
            for _ in 0..3 {
                sink.commit(b.seal(), 1).unwrap();
            }
            assert_eq!(sink.counters().records, 3);
            drop(sink);
            assert_eq!(server.join().unwrap(), 3);
        }
    }
}
