//! Decompression with a cap on *decompressed* bytes, enforced inside the decoder, streaming.
//!
//! A decompression bomb is small on the wire and huge once expanded (1 GiB of zeros is ~1 MiB of gzip
//! and ~32 KiB of zstd). Checking the compressed size proves nothing, and checking the output after the
//! fact means it was already in memory. [`CappedDecoder`] counts every byte it hands out and fails the
//! read that would pass the cap, so memory stays at one read buffer whatever the input claims. Gzip and
//! zstd are detected by magic bytes; concatenated members/frames are decoded as one stream and share the
//! cap; a layer whose output is itself compressed (gzip inside gzip) is decoded too, up to
//! `max_layers`, with the cap on the final output.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

use super::Codec;

/// Why decoding stopped.
#[derive(Debug)]
pub enum DecompressError {
    /// The decompressed output passed the cap.
    CapExceeded {
        /// The input's name.
        input: String,
        /// The cap, bytes.
        cap: u64,
        /// Bytes of output seen when the cap was passed.
        seen: u64,
        /// The compression layers detected, outermost first.
        layers: Vec<Codec>,
    },
    /// The compressed data is invalid (truncated, corrupt, or a header the decoder refuses).
    Corrupt {
        /// The input's name.
        input: String,
        /// The cap in force, bytes.
        cap: u64,
        /// Bytes of output before the failure.
        seen: u64,
        /// The compression layers detected, outermost first.
        layers: Vec<Codec>,
        /// The decoder's message.
        reason: String,
    },
    /// Output grew past `max_ratio` times the compressed bytes read (Envoy-style ratio cap: a bomb is
    /// caught early even under a generous absolute cap).
    RatioExceeded {
        /// The input's name.
        input: String,
        /// The ratio cap.
        max_ratio: f64,
        /// Bytes of output seen.
        seen: u64,
        /// Compressed bytes read to produce them.
        compressed: u64,
        /// The compression layers detected, outermost first.
        layers: Vec<Codec>,
    },
    /// More nested compression layers than allowed.
    TooManyLayers {
        /// The input's name.
        input: String,
        /// The limit.
        max_layers: u32,
    },
}

/// `zstd inside gzip`: the layers, outermost first, as error messages name them.
fn layer_names(layers: &[Codec]) -> String {
    layers
        .iter()
        .map(|l| l.as_str())
        .collect::<Vec<_>>()
        .join(" inside ")
}

impl fmt::Display for DecompressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecompressError::CapExceeded {
                input,
                cap,
                seen,
                layers,
            } => write!(
                f,
                "{input}: decompressed output passed the cap of {cap} bytes ({seen} bytes seen; {}): rejected",
                layer_names(layers)
            ),
            DecompressError::Corrupt {
                input,
                cap,
                seen,
                layers,
                reason,
            } => {
                if layers.is_empty() {
                    write!(
                        f,
                        "{input}: read failed after {seen} bytes (cap {cap} bytes): {reason}: rejected"
                    )
                } else {
                    write!(
                        f,
                        "{input}: invalid {} data after {seen} bytes of output (cap {cap} bytes): {reason}: rejected",
                        layer_names(layers)
                    )
                }
            }
            DecompressError::RatioExceeded {
                input,
                max_ratio,
                seen,
                compressed,
                layers,
            } => write!(
                f,
                "{input}: decompressed {seen} bytes from {compressed} compressed bytes, a ratio of {:.0} past the ratio cap of {max_ratio} ({}): rejected",
                *seen as f64 / (*compressed).max(1) as f64,
                layer_names(layers)
            ),
            DecompressError::TooManyLayers { input, max_layers } => write!(
                f,
                "{input}: more than {max_layers} nested compression layers: rejected"
            ),
        }
    }
}

impl std::error::Error for DecompressError {}

impl DecompressError {
    /// The `DecompressError` inside an `io::Error` from [`CappedDecoder::read`], if that is what it is.
    pub fn from_io(e: &io::Error) -> Option<&DecompressError> {
        e.get_ref()?.downcast_ref::<DecompressError>()
    }
}

/// A reader of decompressed bytes that fails once more than `cap` bytes have come out.
pub struct CappedDecoder<'a> {
    inner: Box<dyn Read + 'a>,
    cap: u64,
    seen: u64,
    input: String,
    layers: Vec<Codec>,
    /// Compressed bytes read from the input so far (shared with the counting reader under the
    /// decoders).
    raw: std::rc::Rc<std::cell::Cell<u64>>,
    max_ratio: Option<f64>,
}

/// Output a ratio cap ignores: tiny inputs (a 1 KiB gzip of a 2 MiB blank page) have huge ratios
/// and are harmless; the absolute cap covers them.
pub const RATIO_GRACE_BYTES: u64 = 1 << 20;

struct Counting<R> {
    inner: R,
    n: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.set(self.n.get() + k as u64);
        Ok(k)
    }
}

fn wrap<'a>(r: Box<dyn BufRead + 'a>, c: Codec) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match c {
        Codec::None => r,
        Codec::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        Codec::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(r)?),
    })
}

impl<'a> CappedDecoder<'a> {
    /// Decode `input` (named `name` in errors), detecting up to `max_layers` nested compression layers,
    /// and fail once the output passes `cap` bytes.
    pub fn new(input: impl Read + 'a, name: &str, cap: u64, max_layers: u32) -> io::Result<Self> {
        let mut layers = Vec::new();
        let raw = std::rc::Rc::new(std::cell::Cell::new(0));
        let input = Counting {
            inner: input,
            n: raw.clone(),
        };
        let mut r: Box<dyn BufRead + 'a> = Box::new(BufReader::with_capacity(64 << 10, input));
        loop {
            let prefix = r.fill_buf().map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    DecompressError::Corrupt {
                        input: name.to_string(),
                        cap,
                        seen: 0,
                        layers: layers.clone(),
                        reason: e.to_string(),
                    },
                )
            })?;
            let c = Codec::detect(prefix);
            if c == Codec::None {
                break;
            }
            if layers.len() as u32 >= max_layers {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    DecompressError::TooManyLayers {
                        input: name.to_string(),
                        max_layers,
                    },
                ));
            }
            layers.push(c);
            r = Box::new(BufReader::with_capacity(64 << 10, wrap(r, c)?));
        }
        Ok(CappedDecoder {
            inner: r,
            cap,
            seen: 0,
            input: name.to_string(),
            layers,
            raw,
            max_ratio: None,
        })
    }

    /// Also fail once the output passes `max_ratio` × the compressed bytes read (after the first
    /// [`RATIO_GRACE_BYTES`] of output).
    pub fn with_max_ratio(mut self, max_ratio: Option<f64>) -> Self {
        self.max_ratio = max_ratio;
        self
    }

    /// Lift the cap when no compression layer was found: the cap exists for bombs, and a plain
    /// input's size is what it is (it is streamed, so memory stays bounded either way).
    pub fn uncapped_if_plain(mut self) -> Self {
        if self.layers.is_empty() {
            self.cap = u64::MAX / 2;
        }
        self
    }

    /// Bytes handed out so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Codec layers detected, outermost first.
    pub fn layers(&self) -> &[Codec] {
        &self.layers
    }
}

impl Read for CappedDecoder<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Never ask for more than one byte past the cap: the read that passes it is the last.
        let room = self.cap.saturating_add(1).saturating_sub(self.seen).max(1);
        let want = buf.len().min(room.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want]).map_err(|e| {
            if DecompressError::from_io(&e).is_some() || e.kind() == io::ErrorKind::Interrupted {
                return e;
            }
            io::Error::new(
                io::ErrorKind::InvalidData,
                DecompressError::Corrupt {
                    input: self.input.clone(),
                    cap: self.cap,
                    seen: self.seen,
                    layers: self.layers.clone(),
                    reason: e.to_string(),
                },
            )
        })?;
        self.seen += n as u64;
        if self.seen > self.cap {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                DecompressError::CapExceeded {
                    input: self.input.clone(),
                    cap: self.cap,
                    seen: self.seen,
                    layers: self.layers.clone(),
                },
            ));
        }
        if let Some(max_ratio) = self.max_ratio {
            let raw = self.raw.get().max(1);
            if !self.layers.is_empty()
                && self.seen > RATIO_GRACE_BYTES
                && self.seen as f64 > max_ratio * raw as f64
            {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    DecompressError::RatioExceeded {
                        input: self.input.clone(),
                        max_ratio,
                        seen: self.seen,
                        compressed: raw,
                        layers: self.layers.clone(),
                    },
                ));
            }
        }
        Ok(n)
    }
}

/// Read one `\n`-terminated record of at most `max_bytes` into `buf` (without the newline; a `\r`
/// before it stays in `buf`, for the caller to strip, and does not count toward the cap). A longer
/// line is skipped to its end *without being held in memory* and reported as `Err(bytes_skipped)`.
/// `Ok(false)` at end of input.
pub fn read_record(
    r: &mut impl BufRead,
    max_bytes: usize,
    buf: &mut Vec<u8>,
) -> io::Result<Result<bool, u64>> {
    buf.clear();
    let mut over: Option<u64> = None;
    // One byte past the cap is held while the line is open: it may be a CRLF ending's `\r`.
    let room = max_bytes.saturating_add(1);
    let end = |over: Option<u64>, buf: &mut Vec<u8>| match over {
        Some(n) => Err(n),
        None if buf.len() > max_bytes && buf.last() != Some(&b'\r') => {
            let n = buf.len() as u64;
            buf.clear();
            Err(n)
        }
        None => Ok(true),
    };
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            if over.is_none() && buf.is_empty() {
                return Ok(Ok(false));
            }
            return Ok(end(over, buf));
        }
        let (line, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (&chunk[..i], Some(i + 1)),
            None => (chunk, None),
        };
        match &mut over {
            Some(n) => *n += line.len() as u64,
            None if buf.len() + line.len() > room => {
                over = Some((buf.len() + line.len()) as u64);
                buf.clear();
            }
            None => buf.extend_from_slice(line),
        }
        let used = done.unwrap_or(chunk.len());
        r.consume(used);
        if done.is_some() {
            return Ok(end(over, buf));
        }
    }
}

#[cfg(test)]
mod tests;
