//! Raw DEFLATE (RFC 1951) decoding, for the catalog build.rs packs.
//!
//! Why written here and not miniz_oxide's `decompress_to_vec` (which
//! build.rs still packs with, and the tests check this against): its
//! inflate, built for speed and streaming, was ~11 KB of each WebAssembly
//! plugin's code to read ~7 KB of catalog once per process. This is the
//! shape of Mark Adler's `puff.c` (zlib's small reference decoder): one
//! whole input, one output, canonical Huffman codes decoded a bit at a
//! time; about 3 KB. A plugin's first call (which inflates the catalog)
//! takes as long as with miniz_oxide, measured in Node: a copy that does
//! not overlap itself is moved whole, and single bits have their own path
//! (byte-at-a-time copies made it 0.4 ms slower). It reads only what
//! build.rs wrote, but malformed input still gives `None`, never a panic
//! or an endless loop (every step consumes input, and output is bounded
//! by it).

/// `input` inflated, or `None` when it is not a complete raw DEFLATE stream
/// (cut short, a reserved block type, a stored length that does not match
/// its complement, a dynamic block's code over-subscribed, incomplete or
/// without an end, a symbol no table has, a copy from before the start).
pub(crate) fn inflate(input: &[u8]) -> Option<Vec<u8>> {
    let mut bits = Bits {
        input,
        at: 0,
        held: 0,
        count: 0,
    };
    let mut out = Vec::new();
    loop {
        let last = bits.take(1)?;
        let block = match bits.take(2)? {
            0 => None,
            1 => Some(fixed_codes()),
            2 => Some(dynamic_codes(&mut bits)?),
            _ => return None,
        };
        match block {
            None => stored(&mut bits, &mut out)?,
            Some(block) => codes(&mut bits, &mut out, &block)?,
        }
        if last == 1 {
            return Some(out);
        }
    }
}

/// The input read least significant bit first, as DEFLATE packs it.
struct Bits<'a> {
    input: &'a [u8],
    at: usize,
    held: u32,
    count: u32,
}

impl Bits<'_> {
    /// The next `n` bits (at most 16) as a number, the first bit lowest.
    fn take(&mut self, n: u32) -> Option<u32> {
        while self.count < n {
            let byte = *self.input.get(self.at)?;
            self.at += 1;
            self.held |= u32::from(byte) << self.count;
            self.count += 8;
        }
        let value = self.held & ((1 << n) - 1);
        self.held >>= n;
        self.count -= n;
        Some(value)
    }

    /// The next bit: [`Bits::take`] of one, on the Huffman decoder's path.
    fn bit(&mut self) -> Option<u32> {
        if self.count == 0 {
            self.held = u32::from(*self.input.get(self.at)?);
            self.at += 1;
            self.count = 8;
        }
        let bit = self.held & 1;
        self.held >>= 1;
        self.count -= 1;
        Some(bit)
    }

    /// The next `n` whole bytes, after dropping what is left of the current one.
    fn bytes(&mut self, n: usize) -> Option<&[u8]> {
        self.held = 0;
        self.count = 0;
        let bytes = self.input.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(bytes)
    }
}

/// A stored block: its length, the length's complement, then the bytes.
fn stored(bits: &mut Bits, out: &mut Vec<u8>) -> Option<()> {
    let header = bits.bytes(4)?;
    let length = u16::from_le_bytes([header[0], header[1]]);
    let complement = u16::from_le_bytes([header[2], header[3]]);
    if length != !complement {
        return None;
    }
    out.extend_from_slice(bits.bytes(usize::from(length))?);
    Some(())
}

/// A canonical Huffman code: how many codes of each length (1-15), and the
/// symbols in code order.
struct Huffman {
    counts: [u16; 16],
    symbols: Vec<u16>,
}

impl Huffman {
    /// The code whose symbol `s` has the length `lengths[s]` (0: unused).
    fn new(lengths: &[u8]) -> Huffman {
        let mut counts = [0u16; 16];
        for &length in lengths {
            counts[usize::from(length)] += 1;
        }
        counts[0] = 0;
        let mut offsets = [0u16; 16];
        for length in 1..15 {
            offsets[length + 1] = offsets[length] + counts[length];
        }
        let mut symbols = vec![0; lengths.len()];
        for (symbol, &length) in (0u16..).zip(lengths) {
            if length != 0 {
                let offset = &mut offsets[usize::from(length)];
                symbols[usize::from(*offset)] = symbol;
                *offset += 1;
            }
        }
        Huffman { counts, symbols }
    }

    /// How the lengths fill the code space (zlib's `puff.c`, `left`): 0
    /// complete, more incomplete (some bit strings name no symbol), less
    /// over-subscribed (more codes than bit strings: not a code at all).
    fn unfilled(&self) -> i32 {
        let mut left = 1i32;
        for &count in &self.counts[1..] {
            left = (left << 1) - i32::from(count);
            if left < 0 {
                break;
            }
        }
        left
    }

    /// Whether a block may use this literal/length or distance code, as
    /// zlib decides: complete, or incomplete only as one code of one bit
    /// (a block of a single distance) or none at all (only literals).
    fn usable(&self) -> bool {
        let left = self.unfilled();
        left == 0 || (left > 0 && self.counts[2..].iter().all(|&count| count == 0))
    }

    /// The next symbol: codes of each length are consecutive numbers,
    /// so a code is found by comparing it with the first of its length.
    fn decode(&self, bits: &mut Bits) -> Option<u16> {
        let (mut code, mut first, mut index) = (0u32, 0u32, 0u32);
        for &count in &self.counts[1..] {
            code |= bits.bit()?;
            let count = u32::from(count);
            if code < first + count {
                return self
                    .symbols
                    .get((index + code).checked_sub(first)? as usize)
                    .copied();
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        None
    }
}

/// A block's literal/length code and distance code.
struct Codes {
    lengths: Huffman,
    distances: Huffman,
}

/// The fixed codes (RFC 1951 3.2.6).
fn fixed_codes() -> Codes {
    let mut lengths = [8u8; 288];
    lengths[144..256].fill(9);
    lengths[256..280].fill(7);
    Codes {
        lengths: Huffman::new(&lengths),
        distances: Huffman::new(&[5; 30]),
    }
}

/// The order in which a dynamic block gives its code-length code's lengths.
const CODE_LENGTH_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// A dynamic block's codes (RFC 1951 3.2.7), read from its header.
fn dynamic_codes(bits: &mut Bits) -> Option<Codes> {
    let literals = bits.take(5)? as usize + 257;
    let distances = bits.take(5)? as usize + 1;
    let code_lengths = bits.take(4)? as usize + 4;
    let mut lengths = [0u8; 19];
    for &symbol in &CODE_LENGTH_ORDER[..code_lengths] {
        lengths[symbol] = bits.take(3)? as u8;
    }
    let code_length_code = Huffman::new(&lengths);
    if code_length_code.unfilled() != 0 {
        return None;
    }
    let mut lengths = Vec::with_capacity(literals + distances);
    while lengths.len() < literals + distances {
        let (length, repeat) = match code_length_code.decode(bits)? {
            symbol @ 0..=15 => (symbol as u8, 1),
            16 => (*lengths.last()?, 3 + bits.take(2)?),
            17 => (0, 3 + bits.take(3)?),
            _ => (0, 11 + bits.take(7)?),
        };
        if lengths.len() + repeat as usize > literals + distances {
            return None;
        }
        lengths.extend(std::iter::repeat_n(length, repeat as usize));
    }
    // Without a code for the end of the block (256) it cannot end.
    if lengths[256] == 0 {
        return None;
    }
    let (literal_lengths, distance_lengths) = lengths.split_at(literals);
    let codes = Codes {
        lengths: Huffman::new(literal_lengths),
        distances: Huffman::new(distance_lengths),
    };
    (codes.lengths.usable() && codes.distances.usable()).then_some(codes)
}

/// Length symbols 257-285: the base length and its extra bits.
const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Distance symbols 0-29: the base distance and its extra bits.
const DISTANCE_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DISTANCE_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// A compressed block's literals and copies, up to its end symbol (256).
fn codes(bits: &mut Bits, out: &mut Vec<u8>, codes: &Codes) -> Option<()> {
    loop {
        let symbol = usize::from(codes.lengths.decode(bits)?);
        if symbol < 256 {
            out.push(symbol as u8);
            continue;
        }
        if symbol == 256 {
            return Some(());
        }
        let at = symbol - 257;
        let length = u32::from(*LENGTH_BASE.get(at)?) + bits.take(u32::from(LENGTH_EXTRA[at]))?;
        let at = usize::from(codes.distances.decode(bits)?);
        let distance =
            u32::from(*DISTANCE_BASE.get(at)?) + bits.take(u32::from(DISTANCE_EXTRA[at]))?;
        let from = out.len().checked_sub(distance as usize)?;
        let (distance, length) = (distance as usize, length as usize);
        if distance >= length {
            out.extend_from_within(from..from + length);
        } else {
            // Byte by byte: the copy overlaps what it writes.
            for k in 0..length {
                out.push(out[from + k]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Text of runs of literals and repeats from anywhere in DEFLATE's
    /// 32 KiB window (the distance a fraction of what is written so far),
    /// growing to tens of KB, so compressors use copies of every length and
    /// distance code as well as literals.
    fn text() -> impl Strategy<Value = Vec<u8>> {
        let step = (any::<u8>(), 0usize..300, any::<prop::sample::Index>());
        proptest::collection::vec(step, 0..400).prop_map(|steps| {
            let mut out: Vec<u8> = Vec::new();
            for (byte, length, back) in steps {
                if length < 100 || out.is_empty() {
                    let literals = (0..length as u8).map(|k| byte ^ k.wrapping_mul(151));
                    out.extend(literals);
                } else {
                    let from = out.len() - 1 - back.index(out.len().min(32_768));
                    for k in 0..length - 97 {
                        out.push(out[from + k]);
                    }
                }
            }
            out
        })
    }

    proptest! {
        /// Whatever miniz_oxide packs, at every level (0: stored blocks;
        /// small inputs: fixed codes; the rest: dynamic codes), this
        /// unpacks to what was packed.
        #[test]
        fn inflates_what_miniz_deflates(data in text(), level in 0u8..=10) {
            let packed = miniz_oxide::deflate::compress_to_vec(&data, level);
            prop_assert_eq!(inflate(&packed), Some(data));
        }

        /// Any bytes at all give an answer, never a panic; a stream cut
        /// short gives `None`.
        #[test]
        fn malformed_input_is_refused(noise in proptest::collection::vec(any::<u8>(), 0..300), data in text(), cut in any::<prop::sample::Index>()) {
            let _ = inflate(&noise);
            let packed = miniz_oxide::deflate::compress_to_vec(&data, 9);
            let short = &packed[..cut.index(packed.len())];
            prop_assert_eq!(inflate(short), None);
        }
    }

    /// `fields` (a value and its bit count each) packed as DEFLATE packs
    /// them, first bit lowest.
    fn pack(fields: &[(u32, u32)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut at = 0;
        for &(value, count) in fields {
            for bit in 0..count {
                if at % 8 == 0 {
                    out.push(0);
                }
                let last = out.len() - 1;
                out[last] |= (((value >> bit) & 1) as u8) << (at % 8);
                at += 1;
            }
        }
        out
    }

    /// A dynamic block whose code-length code is 19 codes of one bit:
    /// read as if it were a code, it would give literal `A`; zlib refuses
    /// it, and so does this. With a complete code-length code (two of the
    /// 19 symbols), the same block inflates to `A`.
    #[test]
    fn an_over_subscribed_code_is_refused() {
        let block = |code_length_lengths: &[u32]| {
            // Final, dynamic; 257 literal/length and 1 distance lengths.
            let mut fields = vec![(1, 1), (2, 2), (0, 5), (0, 5), (15, 4)];
            // Lengths in CODE_LENGTH_ORDER: 16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15.
            fields.extend(code_length_lengths.iter().map(|&length| (length, 3)));
            // Symbol 1 (bit 1) for `A` and the end (256), symbol 0 (bit 0) for the rest.
            fields.extend((0..258).map(|symbol| (u32::from(symbol == 65 || symbol == 256), 1)));
            // `A` (code 0), then the end (code 1).
            fields.extend([(0, 1), (1, 1)]);
            inflate(&pack(&fields))
        };
        assert_eq!(block(&[1; 19]), None);
        let mut two = [0; 19];
        (two[3], two[17]) = (1, 1); // symbols 0 and 1
        assert_eq!(block(&two), Some(b"A".to_vec()));
    }

    /// The catalog build.rs packed inflates as miniz_oxide inflates it.
    #[test]
    fn inflates_the_catalog_as_miniz_does() {
        let packed = include_bytes!(concat!(env!("OUT_DIR"), "/catalog.deflate"));
        let want = miniz_oxide::inflate::decompress_to_vec(packed).expect("build.rs packs DEFLATE");
        assert_eq!(inflate(packed), Some(want));
    }
}
