//! The canonical ABI of the world's exports, walked from a table of its
//! types (`build.rs` writes it from `wit/`): arguments in the component's
//! memory are written as the contract's JSON for core's strict parser, and
//! core's JSON answer is laid out in memory as the WIT result.
//!
//! Why not wit-bindgen's `generate!`: it writes every export's lifting and
//! lowering out inline, type by type (a plan lifted in four exports, a
//! firewall state lowered in two and lifted in three), ~100 KB of code
//! before wasm-opt. Here one walker serves every type and every export.
//!
//! What it relies on, as the canonical ABI promises: the host lays every
//! argument out as the table says (valid UTF-8, in-range tags), in buffers
//! it took from `cabi_realloc` of just their size (a string's length, a
//! list's count times its element's size), which the component then owns
//! and frees with that size (the plugins' allocator, talc, finds a block's
//! end from it); the host reads the result before it calls the export's
//! `cabi_post_`.

#![allow(unsafe_code)]

use std::alloc::{Layout, alloc, alloc_zeroed, dealloc, realloc};
use std::cell::RefCell;

use portplan_core::Encode;
use portplan_core::shell::{JsonOut as Out, compact_json};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::process::abort;

include!(concat!(env!("OUT_DIR"), "/abi_table.rs"));

/// A WIT type as laid out on wasm32.
pub struct Ty {
    kind: Kind,
    size: usize,
    align: usize,
    /// How many flat values it is passed as.
    flat: usize,
}

enum Kind {
    Bool,
    U16,
    U32,
    #[allow(dead_code, reason = "a world built alone may pass no u64")]
    U64,
    String,
    List(&'static Ty),
    /// The payload's offset after the tag.
    Option(&'static Ty, usize),
    Result(Option<&'static Ty>, Option<&'static Ty>, usize),
    Record(&'static [Field]),
    Enum(&'static [&'static str]),
    Variant(&'static [Case], usize),
}

struct Field {
    name: &'static str,
    ty: &'static Ty,
    offset: usize,
}

struct Case {
    name: &'static str,
    ty: Option<&'static Ty>,
}

/// A parameter of an export, at `offset` when the parameters come in
/// memory.
pub struct Param {
    name: &'static str,
    ty: &'static Ty,
    offset: usize,
}

/// One export of the world.
pub struct Function {
    pub params: &'static [Param],
    /// The parameters come as one pointer to them in memory (more than 16
    /// flat values), not as flat values.
    indirect: bool,
    size: usize,
    align: usize,
    result: &'static Ty,
}

/// An export's arguments, each by its WIT name as its JSON.
pub type Args = Vec<(&'static str, String)>;

/// What core answered for an export, or the problems of its input.
pub type Answer = Result<portplan_calls::Answer, portplan_core::PlanError>;

thread_local! {
    /// What the last result took from the heap, freed by `cabi_post_`.
    static RESULT: RefCell<Owned> = const { RefCell::new(Vec::new()) };
}

/// Runs export `index` on its flat arguments (each widened to `i64`) and
/// returns where its result is.
pub fn call(index: usize, flat: &[i64], run: impl FnOnce(Args) -> Answer) -> *mut u8 {
    // A host that skipped the last `cabi_post_` has read that result.
    post();
    let function = &FUNCTIONS[index];
    // SAFETY: the host passed the arguments as the table lays them out.
    let args = unsafe { lift_params(function, flat) };
    let answer = run(args);
    let mut owned = Vec::new();
    // SAFETY: `at` is a fresh zeroed block of the result's size and align,
    // freed by `post`.
    let at = unsafe {
        let (size, align) = (function.result.size, function.result.align);
        let at = zeroed(size, align);
        owned.push((at, Layout::from_size_align_unchecked(size, align)));
        lower_answer(function.result, answer, at, &mut owned);
        at
    };
    RESULT.with(|r| *r.borrow_mut() = owned);
    at
}

/// Frees the last result (the exports' `cabi_post_`).
pub fn post() {
    for (ptr, layout) in RESULT.with(|r| std::mem::take(&mut *r.borrow_mut())) {
        // SAFETY: each was allocated with this layout and is freed once.
        unsafe { dealloc(ptr, layout) };
    }
}

/// `cabi_realloc`: the host's allocations in the component's memory, as
/// wit-bindgen's runtime makes them (nothing is allocated for size 0; a
/// size or align no `Layout` admits traps).
///
/// # Safety
/// As `realloc` and `alloc`: `old` from this function with `old_size` and
/// `align`.
#[unsafe(export_name = "cabi_realloc")]
pub unsafe extern "C" fn cabi_realloc(
    old: *mut u8,
    old_size: usize,
    align: usize,
    new_size: usize,
) -> *mut u8 {
    let layout = |size| Layout::from_size_align(size, align).unwrap_or_else(|_| abort());
    if new_size == 0 {
        if old_size != 0 {
            // SAFETY: `old` came from here with this layout.
            unsafe { dealloc(old, layout(old_size)) };
        }
        return align as *mut u8;
    }
    // Checked first: `realloc` takes the new size unchecked.
    let new = layout(new_size);
    // SAFETY: as the function's contract says; the layouts are checked.
    let ptr = unsafe {
        if old_size == 0 {
            alloc(new)
        } else {
            realloc(old, layout(old_size), new.size())
        }
    };
    if ptr.is_null() {
        abort();
    }
    ptr
}

unsafe fn lift_params(function: &Function, flat: &[i64]) -> Args {
    let mut args = Vec::with_capacity(function.params.len());
    if function.indirect {
        let base = flat[0] as usize as *mut u8;
        for param in function.params {
            // SAFETY: the host wrote the parameters at `base`.
            unsafe { args.push((param.name, lift_owned(param.ty, base.add(param.offset)))) };
        }
        // SAFETY: the host took the block from `cabi_realloc` with this layout.
        unsafe { free(base, function.size, function.align) };
    } else {
        let mut flat = flat.iter().copied();
        for param in function.params {
            // SAFETY: a zeroed block for one parameter, filled from its flat values.
            unsafe {
                let at = zeroed(param.ty.size, param.ty.align);
                store_flat(param.ty, &mut flat, at);
                args.push((param.name, lift_owned(param.ty, at)));
                free(at, param.ty.size, param.ty.align);
            }
        }
    }
    args
}

/// The argument at `at` as JSON, then the buffers inside it freed (the
/// component owns what the host passed).
unsafe fn lift_owned(ty: &'static Ty, at: *mut u8) -> String {
    let json = compact_json(&At { ty, at });
    // SAFETY: the caller's.
    unsafe { release(ty, at) };
    json
}

/// A value in memory, written as JSON by core's writer.
struct At {
    ty: &'static Ty,
    at: *const u8,
}

impl Encode for At {
    fn encode(&self, out: &mut Out) {
        let p = self.at;
        // SAFETY: `At`s are made only over values laid out as `ty` says.
        unsafe {
            match self.ty.kind {
                Kind::Bool => (read::<u8>(p) != 0).encode(out),
                Kind::U16 => read::<u16>(p).encode(out),
                Kind::U32 => read::<u32>(p).encode(out),
                Kind::U64 => read::<u64>(p).encode(out),
                Kind::String => out.string(str_at(p)),
                Kind::List(element) => list_at(element, p).encode(out),
                Kind::Option(inner, payload) => match read::<u8>(p) {
                    0 => None::<u8>.encode(out),
                    1 => At::new(inner, p.add(payload)).encode(out),
                    _ => abort(),
                },
                Kind::Record(fields) => {
                    out.begin_object();
                    for field in fields {
                        out.key(field.name);
                        At::new(field.ty, p.add(field.offset)).encode(out);
                    }
                    out.end_object();
                }
                Kind::Enum(cases) => out.string(cases[usize::from(read::<u8>(p))]),
                Kind::Variant(cases, payload) => match &cases[usize::from(read::<u8>(p))] {
                    Case { name, ty: None } => out.string(name),
                    Case { name, ty: Some(ty) } => out.variant(name, &At::new(ty, p.add(payload))),
                },
                Kind::Result(..) => unreachable!("no parameter is a result"),
            }
        }
    }
}

impl At {
    fn new(ty: &'static Ty, at: *const u8) -> Self {
        At { ty, at }
    }
}

/// A list's elements in memory.
unsafe fn list_at(element: &'static Ty, p: *const u8) -> Vec<At> {
    // SAFETY: the caller's.
    let (ptr, len) = unsafe { buffer_at(p) };
    (0..len)
        .map(|i| At::new(element, ptr.wrapping_add(i * element.size)))
        .collect()
}

unsafe fn str_at<'a>(p: *const u8) -> &'a str {
    // SAFETY: the caller's; the host passes strings as valid UTF-8.
    unsafe {
        let (ptr, len) = buffer_at(p);
        if len == 0 {
            // Whatever the pointer: a slice is never made from a null one.
            return "";
        }
        let bytes = std::slice::from_raw_parts(ptr, len);
        // A trap, as for a tag out of range: `expect` would link
        // `Utf8Error`'s `Debug` and the struct formatter (~1.5 KB) for a
        // message no host sees.
        std::str::from_utf8(bytes).unwrap_or_else(|_| abort())
    }
}

/// Frees the buffers inside the value at `p` (not `p` itself).
unsafe fn release(ty: &Ty, p: *mut u8) {
    // SAFETY: the caller's; each buffer is the host's, freed once.
    unsafe {
        match ty.kind {
            Kind::String => {
                let (ptr, len) = buffer_at(p);
                free(ptr, len, 1);
            }
            Kind::List(element) => {
                let (ptr, len) = buffer_at(p);
                for i in 0..len {
                    release(element, ptr.add(i * element.size));
                }
                free(ptr, len * element.size, element.align);
            }
            Kind::Option(inner, payload) if read::<u8>(p) != 0 => release(inner, p.add(payload)),
            Kind::Record(fields) => {
                for field in fields {
                    release(field.ty, p.add(field.offset));
                }
            }
            Kind::Variant(cases, payload) => {
                if let Some(ty) = cases[usize::from(read::<u8>(p))].ty {
                    release(ty, p.add(payload));
                }
            }
            _ => {}
        }
    }
}

/// Lays flat values out at `p` as the value they flatten (a tag, then its
/// case's values; the slots joined with other cases' are skipped).
unsafe fn store_flat(ty: &Ty, flat: &mut impl Iterator<Item = i64>, p: *mut u8) {
    // SAFETY: the caller's: `p` has room for `ty`.
    unsafe {
        match ty.kind {
            // Any value but 0 is true, as the canonical ABI lifts a bool.
            Kind::Bool => write(p, u8::from(pull(flat) != 0)),
            Kind::Enum(cases) => write(p, tag(pull(flat), cases.len())),
            Kind::U16 => write(p, pull(flat) as u16),
            Kind::U32 => write(p, pull(flat) as u32),
            Kind::U64 => write(p, pull(flat) as u64),
            Kind::String | Kind::List(_) => {
                write(p, pull(flat) as u32);
                write(p.add(4), pull(flat) as u32);
            }
            Kind::Record(fields) => {
                for field in fields {
                    store_flat(field.ty, flat, p.add(field.offset));
                }
            }
            Kind::Option(inner, payload) => {
                let tag = tag(pull(flat), 2);
                write(p, tag);
                let cases = [None, Some(inner)];
                store_case(ty, cases[usize::from(tag)], flat, p.add(payload));
            }
            Kind::Variant(cases, payload) => {
                let tag = tag(pull(flat), cases.len());
                write(p, tag);
                store_case(ty, cases[usize::from(tag)].ty, flat, p.add(payload));
            }
            Kind::Result(..) => unreachable!("no parameter is a result"),
        }
    }
}

/// A case's tag among `cases`; one out of range traps, as the canonical
/// ABI's lifting does.
fn tag(value: i64, cases: usize) -> u8 {
    (u8::try_from(value).ok())
        .filter(|tag| usize::from(*tag) < cases)
        .unwrap_or_else(|| abort())
}

fn pull(flat: &mut impl Iterator<Item = i64>) -> i64 {
    flat.next()
        .expect("as many flat values as the signature has")
}

/// A case's payload from the flat values after its tag, and the rest of the
/// variant's slots skipped.
unsafe fn store_case(
    variant: &Ty,
    case: Option<&Ty>,
    flat: &mut impl Iterator<Item = i64>,
    p: *mut u8,
) {
    let used = case.map_or(0, |ty| {
        // SAFETY: the caller's.
        unsafe { store_flat(ty, flat, p) };
        ty.flat
    });
    for _ in used + 1..variant.flat {
        flat.next();
    }
}

unsafe fn lower_answer(ty: &'static Ty, answer: Answer, at: *mut u8, owned: &mut Owned) {
    use portplan_calls::Answer::{Json, Text};
    // SAFETY: the caller's: `at` is a zeroed block for `ty`.
    unsafe {
        match (&ty.kind, answer) {
            (Kind::Result(Some(ok), _, payload), Ok(Json(json))) => {
                lower_json(ok, &json, at.add(*payload), owned);
            }
            (Kind::Result(_, Some(err), payload), Err(error)) => {
                write(at, 1u8);
                lower_json(err, &compact_json(&error), at.add(*payload), owned);
            }
            (Kind::String, Ok(Text(text))) => store_string(text.into_bytes(), at, owned),
            (_, Ok(Json(json))) => lower_json(ty, &json, at, owned),
            _ => unreachable!("core answers as the WIT's result type"),
        }
    }
}

/// A `string` at `p`: its bytes handed over, not copied.
unsafe fn store_string(bytes: Vec<u8>, p: *mut u8, owned: &mut Owned) {
    let len = bytes.len();
    let ptr = Box::into_raw(bytes.into_boxed_slice()).cast::<u8>();
    if len > 0 {
        owned.push((ptr, Layout::array::<u8>(len).unwrap_or_else(|_| abort())));
    }
    // SAFETY: the caller's.
    unsafe { store_buffer(p, ptr, len) };
}

/// Lays core's JSON answer out in memory at `at` as `ty`, reading it once
/// with serde_json's parser (the one core reads with).
unsafe fn lower_json(ty: &'static Ty, json: &str, at: *mut u8, owned: &mut Owned) {
    let mut reader = serde_json::Deserializer::from_str(json);
    // Not `expect`: the error's text would link serde_json's formatting.
    let read = (Place { ty, at, owned }.deserialize(&mut reader)).and_then(|()| reader.end());
    if read.is_err() {
        panic!("core answers JSON of the WIT's types");
    }
}

type Owned = Vec<(*mut u8, Layout)>;

/// Where a value of `ty` goes: a zeroed block at `at` (an absent or `null`
/// option is its zeroes). What it takes from the heap is noted in `owned`.
struct Place<'o> {
    ty: &'static Ty,
    at: *mut u8,
    owned: &'o mut Owned,
}

impl<'de> DeserializeSeed<'de> for Place<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, reader: D) -> Result<(), D::Error> {
        match self.ty.kind {
            Kind::Option(..) => reader.deserialize_option(self),
            _ => reader.deserialize_any(self),
        }
    }
}

impl<'de> Visitor<'de> for Place<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a value of the WIT type")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<(), E> {
        let Kind::Bool = self.ty.kind else {
            return Err(E::custom("a bool where the WIT has none"));
        };
        // SAFETY: `at` has room for the type (`Place`'s invariant).
        unsafe { write(self.at, u8::from(value)) };
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<(), E> {
        // SAFETY: as above.
        unsafe {
            match self.ty.kind {
                Kind::U16 => write(self.at, value as u16),
                Kind::U32 => write(self.at, value as u32),
                Kind::U64 => write(self.at, value),
                _ => return Err(E::custom("a number where the WIT has none")),
            }
        }
        Ok(())
    }

    /// Core writes no signed or fractional numbers; serde's default would
    /// format the number into its error (and bring float formatting).
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(E::custom("a signed number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(E::custom("a fractional number"))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<(), E> {
        // SAFETY: as above.
        unsafe {
            match self.ty.kind {
                Kind::String => store_string(text.as_bytes().to_vec(), self.at, self.owned),
                Kind::Enum(cases) => write(self.at, position(cases.iter().copied(), text)?),
                // A bare name only for a case without a payload.
                Kind::Variant(cases, _) => {
                    let tag = position(cases.iter().map(|c| c.name), text)?;
                    if cases[usize::from(tag)].ty.is_some() {
                        return Err(E::custom("a case without its payload"));
                    }
                    write(self.at, tag);
                }
                _ => return Err(E::custom("a string where the WIT has none")),
            }
        }
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    /// A `null` that is no option's. Not serde's default, which names the
    /// value through serde_json's `Unexpected`, whose formatting would be
    /// the only `Debug` of a string in the component.
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom("a null where the WIT has none"))
    }

    fn visit_some<D: Deserializer<'de>>(self, reader: D) -> Result<(), D::Error> {
        let Kind::Option(inner, payload) = self.ty.kind else {
            return Err(de::Error::custom("an option where the WIT has none"));
        };
        // SAFETY: as above; the payload is inside the option's block.
        unsafe { write(self.at, 1u8) };
        let at = self.at.wrapping_add(payload);
        Place {
            ty: inner,
            at,
            owned: self.owned,
        }
        .deserialize(reader)
    }

    /// A list's elements into one buffer, grown as they come: each is read
    /// into a zeroed scratch element first, so an empty list allocates
    /// nothing.
    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        let Kind::List(element) = self.ty.kind else {
            return Err(de::Error::custom("a list where the WIT has none"));
        };
        let mut buffer = Buffer::new(element);
        loop {
            let mut scratch = [0u64; SCRATCH];
            let at = scratch.as_mut_ptr().cast::<u8>();
            let owned = &mut *self.owned;
            if items
                .next_element_seed(Place {
                    ty: element,
                    at,
                    owned,
                })?
                .is_none()
            {
                break;
            }
            buffer.push(at);
        }
        // SAFETY: as above.
        unsafe { buffer.store(self.at, self.owned) };
        Ok(())
    }

    /// A record's fields by name, or a variant's case with its payload.
    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<(), A::Error> {
        while let Some(key) = members.next_key::<String>()? {
            let (ty, offset) = match self.ty.kind {
                Kind::Record(fields) => match fields.iter().find(|f| f.name == key) {
                    Some(field) => (field.ty, field.offset),
                    None => return Err(de::Error::custom("a field the WIT lacks")),
                },
                Kind::Variant(cases, payload) => {
                    let tag = position(cases.iter().map(|c| c.name), &key)?;
                    // SAFETY: as above.
                    unsafe { write(self.at, tag) };
                    match cases[usize::from(tag)].ty {
                        Some(ty) => (ty, payload),
                        None => return Err(de::Error::custom("a payload the case lacks")),
                    }
                }
                _ => return Err(de::Error::custom("an object where the WIT has none")),
            };
            let at = self.at.wrapping_add(offset);
            members.next_value_seed(Place {
                ty,
                at,
                owned: &mut *self.owned,
            })?;
        }
        Ok(())
    }
}

/// A list's elements as they are laid out.
struct Buffer {
    element: &'static Ty,
    ptr: *mut u8,
    capacity: usize,
    len: usize,
}

impl Buffer {
    fn new(element: &'static Ty) -> Self {
        Buffer {
            element,
            ptr: element.align as *mut u8,
            capacity: 0,
            len: 0,
        }
    }

    fn layout(&self, capacity: usize) -> Layout {
        (capacity.checked_mul(self.element.size))
            .and_then(|size| Layout::from_size_align(size, self.element.align).ok())
            .unwrap_or_else(|| abort())
    }

    /// Appends the element at `element` (its bytes: whatever it points to
    /// stays where it is).
    fn push(&mut self, element: *const u8) {
        let size = self.element.size;
        if self.len == self.capacity {
            let grown = (self.capacity * 2).max(4);
            // SAFETY: `ptr` holds `capacity` elements of this layout.
            let ptr = unsafe {
                if self.capacity == 0 {
                    alloc(self.layout(grown))
                } else {
                    realloc(self.ptr, self.layout(self.capacity), grown * size)
                }
            };
            if ptr.is_null() {
                abort();
            }
            (self.ptr, self.capacity) = (ptr, grown);
        }
        // SAFETY: element `len` is inside the buffer; `element` is a whole
        // element elsewhere.
        unsafe { std::ptr::copy_nonoverlapping(element, self.ptr.add(self.len * size), size) };
        self.len += 1;
    }

    /// The list (pointer, length) at `p`; its buffer noted in `owned`.
    unsafe fn store(self, p: *mut u8, owned: &mut Owned) {
        if self.capacity > 0 {
            owned.push((self.ptr, self.layout(self.capacity)));
        }
        // SAFETY: the caller's.
        unsafe { store_buffer(p, self.ptr, self.len) };
    }
}

/// The tag of the case named `name`.
fn position<'n, E: de::Error>(names: impl Iterator<Item = &'n str>, name: &str) -> Result<u8, E> {
    let found = names.enumerate().find(|(_, n)| *n == name);
    found
        .map(|(i, _)| i as u8)
        .ok_or_else(|| E::custom("a case the WIT lacks"))
}

/// A zeroed block of `size` (non-zero: every type here has a size) bytes.
unsafe fn zeroed(size: usize, align: usize) -> *mut u8 {
    // SAFETY: `align` is a power of two from the table, `size` non-zero.
    let ptr = unsafe { alloc_zeroed(Layout::from_size_align_unchecked(size, align)) };
    if ptr.is_null() {
        abort();
    }
    ptr
}

/// Frees a buffer of `size` bytes (none when 0: `cabi_realloc` allocates
/// nothing then).
unsafe fn free(ptr: *mut u8, size: usize, align: usize) {
    if size != 0 {
        // SAFETY: the caller's.
        unsafe { dealloc(ptr, Layout::from_size_align_unchecked(size, align)) };
    }
}

/// A string's or list's (pointer, length) at `p`.
unsafe fn buffer_at(p: *const u8) -> (*mut u8, usize) {
    // SAFETY: the caller's.
    unsafe {
        (
            read::<u32>(p) as usize as *mut u8,
            read::<u32>(p.add(4)) as usize,
        )
    }
}

/// Writes a string's or list's (pointer, length) at `p`.
unsafe fn store_buffer(p: *mut u8, ptr: *mut u8, len: usize) {
    // SAFETY: the caller's.
    unsafe {
        write(p, ptr as usize as u32);
        write(p.add(4), len as u32);
    }
}

unsafe fn read<T: Copy>(p: *const u8) -> T {
    // SAFETY: the caller's.
    unsafe { p.cast::<T>().read_unaligned() }
}

unsafe fn write<T>(p: *mut u8, value: T) {
    // SAFETY: the caller's.
    unsafe { p.cast::<T>().write_unaligned(value) }
}
