//! Writes `$OUT_DIR/abi_table.rs`: the WIT world's exports and every type
//! they pass, as the canonical ABI lays them out on wasm32 (sizes, aligns,
//! field and payload offsets, flat counts), read from `wit/` with
//! wit-parser (the parser wit-bindgen and wit-component are built on).
//!
//! Why a table and not wit-bindgen's `generate!`: wit-bindgen writes each
//! export's lifting and lowering out inline, type by type, so a record
//! passed to four exports is lifted four times (~100 KB of code).
//! `src/abi.rs` walks this table instead: one copy of the walking code, the
//! types as data.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use wit_parser::abi::{AbiVariant, WasmType};
use wit_parser::{Int, Resolve, SizeAlign, Type, TypeDefKind, TypeId, WorldItem};

/// The worlds built alone, each behind the crate feature of its name.
const CONCERNS: [&str; 3] = ["plans", "firewalls", "reach"];

/// The world this build exports: `portplan` (every function) with every
/// concern's feature on, as by default; one concern's world with only its
/// feature (`--no-default-features --features plans`).
fn world_name() -> &'static str {
    let on: Vec<&'static str> = (CONCERNS.into_iter())
        .filter(|world| {
            std::env::var_os(format!("CARGO_FEATURE_{}", world.to_uppercase())).is_some()
        })
        .collect();
    match on.as_slice() {
        [world] => world,
        worlds if worlds.len() == CONCERNS.len() => "portplan",
        worlds => panic!("features {worlds:?}: one of {CONCERNS:?}, or all of them"),
    }
}

fn main() {
    // The crate is empty off wasm (lib.rs), and so is what it would include.
    let families = std::env::var("CARGO_CFG_TARGET_FAMILY").unwrap_or_default();
    if !families.split(',').any(|family| family == "wasm") {
        return;
    }
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let wit = root.join("../../wit");
    println!("cargo:rerun-if-changed={}", wit.display());
    let mut resolve = Resolve::default();
    let (package, _) = resolve.push_dir(&wit).expect("wit/ parses");
    let functions = |world| {
        let world = (resolve.select_world(&[package], Some(world)))
            .unwrap_or_else(|e| panic!("the world `{world}`: {e:#}"));
        let exports = resolve.worlds[world].exports.values();
        exports
            .map(|item| signature(&resolve, item))
            .collect::<Vec<_>>()
    };
    let joined: Vec<String> = CONCERNS.into_iter().flat_map(functions).collect();
    assert_eq!(
        joined,
        functions("portplan"),
        "wit/: the worlds {CONCERNS:?} together must export exactly `portplan`'s functions, in its order"
    );
    let name = world_name();
    let world = resolve
        .select_world(&[package], Some(name))
        .unwrap_or_else(|e| panic!("the world `{name}`: {e:#}"));
    let mut sizes = SizeAlign::default();
    sizes.fill(&resolve);
    let mut table = Table {
        resolve: &resolve,
        sizes: &sizes,
        statics: BTreeMap::new(),
    };
    let mut exports = String::new();
    let mut functions = String::new();
    for (index, item) in resolve.worlds[world].exports.values().enumerate() {
        let WorldItem::Function(function) = item else {
            panic!("the world exports functions only");
        };
        let signature = resolve.wasm_signature(AbiVariant::GuestExport, function);
        assert!(
            signature.retptr,
            "{}: every result is returned in memory",
            function.name
        );
        let result = function
            .result
            .as_ref()
            .expect("every export returns a value");
        let params: Vec<&Type> = function.params.iter().map(|p| &p.ty).collect();
        let offsets = sizes.field_offsets(params.iter().copied());
        let block = sizes.record(params.iter().copied());
        let mut listed = String::new();
        for (param, (offset, ty)) in function.params.iter().zip(&offsets) {
            write!(
                listed,
                "Param {{ name: {:?}, ty: &{}, offset: {} }}, ",
                param.name,
                table.name(ty),
                offset.size_wasm32()
            )
            .expect("a String takes any text");
        }
        writeln!(
            functions,
            "    Function {{ params: &[{listed}], indirect: {}, size: {}, align: {}, result: &{} }},",
            signature.indirect_params,
            block.size.size_wasm32(),
            block.align.align_wasm32(),
            table.name(result),
        )
        .expect("a String takes any text");
        let args: Vec<String> = (0..signature.params.len())
            .map(|i| format!("a{i}: {}", wasm_type(signature.params[i])))
            .collect();
        let flat: Vec<String> = (0..signature.params.len())
            .map(|i| widen(signature.params[i], &format!("a{i}")))
            .collect();
        writeln!(
            exports,
            "        #[unsafe(export_name = {name:?})]\n        \
             extern \"C\" fn e{index}({args}) -> *mut u8 {{ $call({index}, &[{flat}], $calls::{rust}) }}\n        \
             #[unsafe(export_name = \"cabi_post_{name}\")]\n        \
             extern \"C\" fn p{index}(_: *mut u8) {{ $post() }}",
            name = function.name,
            rust = function.name.replace('-', "_"),
            args = args.join(", "),
            flat = flat.join(", "),
        )
        .expect("a String takes any text");
    }
    let mut out = String::from("// Written by build.rs from wit/; do not edit.\n\n");
    writeln!(
        out,
        "/// The scratch a list's next element is read into, in `u64`s (their\n\
         /// alignment covers every type's): every list element fits.\n\
         const SCRATCH: usize = {SCRATCH};\n"
    )
    .expect("a String takes any text");
    for text in table.statics.values() {
        out.push_str(text);
    }
    writeln!(out, "\n/// The world's exports, in its order.\npub static FUNCTIONS: &[Function] = &[\n{functions}];").expect("a String takes any text");
    writeln!(
        out,
        "\n/// Each export under its WIT name, and its `cabi_post_`: flat arguments\n\
         /// widened to `i64`, handed to `$call` with the export's index and\n\
         /// its function in the crate `$calls` (its WIT name in snake case).\n\
         macro_rules! exports {{\n    ($call:path, $post:path, $calls:ident) => {{\n{exports}    }};\n}}"
    )
    .expect("a String takes any text");
    let path = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("abi_table.rs");
    std::fs::write(path, out).expect("OUT_DIR is writable");
}

/// The `u64`s of the scratch abi.rs reads a list's next element into: every
/// list element of the WIT must fit (`Table::kind` asserts it).
const SCRATCH: usize = 32;

/// An export as WIT writes it, its types followed through the worlds' `use`s
/// to the interface's (each world `use`s a type as an alias of its own).
fn signature(resolve: &Resolve, item: &WorldItem) -> String {
    let WorldItem::Function(function) = item else {
        panic!("the worlds export functions only");
    };
    let params: Vec<String> = (function.params.iter())
        .map(|param| format!("{}: {}", param.name, shape(resolve, &param.ty)))
        .collect();
    let result = function.result.as_ref().map(|ty| shape(resolve, ty));
    let result = result.unwrap_or_else(|| "()".into());
    format!("{}({}) -> {result}", function.name, params.join(", "))
}

fn shape(resolve: &Resolve, ty: &Type) -> String {
    let Type::Id(id) = ty else {
        return format!("{ty:?}");
    };
    let def = &resolve.types[*id];
    match &def.kind {
        TypeDefKind::Type(aliased) => shape(resolve, aliased),
        _ if def.name.is_some() => format!("{}#{}", def.name.as_deref().unwrap_or(""), id.index()),
        TypeDefKind::List(element) => format!("list<{}>", shape(resolve, element)),
        TypeDefKind::Option(inner) => format!("option<{}>", shape(resolve, inner)),
        TypeDefKind::Result(result) => {
            let side = |ty: &Option<Type>| {
                ty.as_ref()
                    .map_or_else(|| "_".into(), |ty| shape(resolve, ty))
            };
            format!("result<{}, {}>", side(&result.ok), side(&result.err))
        }
        other => panic!("an anonymous {other:?} in a signature"),
    }
}

fn wasm_type(ty: WasmType) -> &'static str {
    match ty {
        WasmType::I32 | WasmType::Length => "i32",
        WasmType::Pointer => "*mut u8",
        WasmType::I64 | WasmType::PointerOrI64 => "i64",
        WasmType::F32 | WasmType::F64 => panic!("the WIT has no floats"),
    }
}

/// A flat argument as the `i64` slot `abi.rs` reads (an `i32` zero-extended,
/// as the canonical ABI's joined slots read it back).
fn widen(ty: WasmType, arg: &str) -> String {
    match ty {
        WasmType::I32 | WasmType::Length => format!("{arg} as u32 as i64"),
        WasmType::Pointer => format!("{arg} as usize as i64"),
        _ => arg.to_string(),
    }
}

struct Table<'a> {
    resolve: &'a Resolve,
    sizes: &'a SizeAlign,
    /// Each type's `static`, by its name: written once, in a stable order.
    statics: BTreeMap<String, String>,
}

impl Table<'_> {
    /// The name of `ty`'s `static`, written first if it is not yet.
    fn name(&mut self, ty: &Type) -> String {
        let (name, kind) = match ty {
            Type::Bool => ("BOOL".to_string(), "Kind::Bool".to_string()),
            Type::U16 => ("U16".to_string(), "Kind::U16".to_string()),
            Type::U32 => ("U32".to_string(), "Kind::U32".to_string()),
            Type::U64 => ("U64".to_string(), "Kind::U64".to_string()),
            Type::String => ("STRING".to_string(), "Kind::String".to_string()),
            // An alias is its target.
            Type::Id(id) => match &self.resolve.types[*id].kind {
                TypeDefKind::Type(target) => return self.name(target),
                _ => (format!("T{}", id.index()), self.kind(*id)),
            },
            other => panic!("the WIT uses no {other:?}"),
        };
        if !self.statics.contains_key(&name) {
            let size = self.sizes.size(ty).size_wasm32();
            let align = self.sizes.align(ty).align_wasm32();
            let flat = self.flat(ty);
            let text = format!(
                "static {name}: Ty = Ty {{ kind: {kind}, size: {size}, align: {align}, flat: {flat} }};\n"
            );
            self.statics.insert(name.clone(), text);
        }
        name
    }

    fn kind(&mut self, id: TypeId) -> String {
        let def = &self.resolve.types[id];
        match &def.kind {
            TypeDefKind::List(element) => {
                // abi.rs reads each element into a scratch of SCRATCH `u64`s.
                let (size, align) = (self.sizes.size(element), self.sizes.align(element));
                assert!(
                    size.size_wasm32() <= SCRATCH * 8 && align.align_wasm32() <= 8,
                    "a list element fits the scratch"
                );
                format!("Kind::List(&{})", self.name(element))
            }
            TypeDefKind::Option(inner) => {
                let payload = self.payload([Some(inner)]);
                format!("Kind::Option(&{}, {payload})", self.name(inner))
            }
            TypeDefKind::Result(result) => {
                let payload = self.payload([result.ok.as_ref(), result.err.as_ref()]);
                let ok = self.optional(result.ok.as_ref());
                let err = self.optional(result.err.as_ref());
                format!("Kind::Result({ok}, {err}, {payload})")
            }
            TypeDefKind::Record(record) => {
                let types: Vec<&Type> = record.fields.iter().map(|f| &f.ty).collect();
                let offsets = self.sizes.field_offsets(types.iter().copied());
                let fields: Vec<String> = record
                    .fields
                    .iter()
                    .zip(offsets)
                    .map(|(field, (offset, ty))| {
                        format!(
                            "Field {{ name: {:?}, ty: &{}, offset: {} }}",
                            field.name,
                            self.name(ty),
                            offset.size_wasm32()
                        )
                    })
                    .collect();
                format!("Kind::Record(&[{}])", fields.join(", "))
            }
            TypeDefKind::Enum(e) => {
                assert!(matches!(e.tag(), Int::U8), "one-byte tags only");
                let cases: Vec<String> = e.cases.iter().map(|c| format!("{:?}", c.name)).collect();
                format!("Kind::Enum(&[{}])", cases.join(", "))
            }
            TypeDefKind::Variant(v) => {
                assert!(matches!(v.tag(), Int::U8), "one-byte tags only");
                let payload = self.payload(v.cases.iter().map(|c| c.ty.as_ref()));
                let cases: Vec<String> = v
                    .cases
                    .iter()
                    .map(|c| {
                        format!(
                            "Case {{ name: {:?}, ty: {} }}",
                            c.name,
                            self.optional(c.ty.as_ref())
                        )
                    })
                    .collect();
                format!("Kind::Variant(&[{}], {payload})", cases.join(", "))
            }
            other => panic!("the WIT uses no {other:?}"),
        }
    }

    /// `Some(&NAME)` or `None`.
    fn optional(&mut self, ty: Option<&Type>) -> String {
        ty.map_or("None".to_string(), |t| format!("Some(&{})", self.name(t)))
    }

    fn payload<'t>(&self, cases: impl IntoIterator<Item = Option<&'t Type>>) -> usize {
        self.sizes.payload_offset(Int::U8, cases).size_wasm32()
    }

    /// How many flat values the canonical ABI passes `ty` as.
    fn flat(&self, ty: &Type) -> usize {
        let id = match ty {
            Type::String => return 2,
            Type::Id(id) => *id,
            _ => return 1,
        };
        let max = |types: Vec<Option<&Type>>| {
            types
                .into_iter()
                .map(|t| t.map_or(0, |t| self.flat(t)))
                .max()
                .unwrap_or(0)
        };
        match &self.resolve.types[id].kind {
            TypeDefKind::Type(inner) => self.flat(inner),
            TypeDefKind::List(_) => 2,
            TypeDefKind::Enum(_) => 1,
            TypeDefKind::Option(inner) => 1 + self.flat(inner),
            TypeDefKind::Result(r) => 1 + max(vec![r.ok.as_ref(), r.err.as_ref()]),
            TypeDefKind::Variant(v) => 1 + max(v.cases.iter().map(|c| c.ty.as_ref()).collect()),
            TypeDefKind::Record(r) => r.fields.iter().map(|f| self.flat(&f.ty)).sum(),
            other => panic!("the WIT uses no {other:?}"),
        }
    }
}
