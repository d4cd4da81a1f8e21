"""What is big in a plugin: code bytes per group of functions, read from the
name section of an unstripped build. twiggy does this too but is not part of
the toolchain here; the format is small enough to read directly.

    cargo build --target wasm32-unknown-unknown --profile wasm-names -p portplan-extism
    python3 wasm-plugin/bench/size.py target/wasm32-unknown-unknown/wasm-names/portplan_extism.wasm

Prints the code and data section sizes, then the code bytes of each group
(the first GROUPS pattern a function's mangled name contains; "other" for
none), largest first, and with --top N the N largest functions. Sizes are
before wasm-opt, which takes about a tenth off the code.

With --check-copies it instead fails (exit 1) unless std's sorts are
absent: core's `order` module sorts with a merge sort of its own, and CIDRs
are aggregated by core's `nets` module, not by ipnet's `aggregate`, which
sorted unstably once per address family. A sort at a new call site, or a
`collect` into a B-tree (which sorts), adds a copy of 4-6 KB. Nor may
miniz_oxide's inflater be linked (~11 KB; core inflates the catalog with
`inflate.rs`), nor serde_json's own `Value` builder (~7 KB; every JSON
text is read by the decoder's, `decode::read_any`) or its writer (~2 KB;
core writes JSON with `encode.rs`), nor `Value`'s clone (~1.5 KB; readers
borrow from the tree they read). It also
fails where any of `core::fmt`'s float formatting is linked (~15 KB): nothing in
the plugins formats a float since the walker words serde's `Unexpected`
itself (core/src/decode.rs, `Said`); or std's float parsing (~25 KB with its
tables): nothing parses one since core writes its CSV itself
(core/src/render.rs, `csv_record`). And it fails unless a hash table's
growth is there once or twice: core's maps share one table type
(core/src/table.rs), and serde_json's `Value` has the other; a std
`HashMap` with a key type of its own adds ~600 bytes. Nor may a string
be written with `{:?}` (`<str as Debug>::fmt`, ~1 KB with its callers):
core quotes with `decode::debug_quoted`, and the component reads core's
answers with a visitor that leaves no value to serde_json's `Unexpected`,
which would. (A char's `Debug`, and with it Unicode's tables of what
prints, stays: std's panic for a string sliced off a character boundary
names the character with it.)
"""

import re
import sys
from collections import Counter

# First match wins: portplan's own modules, the decoder, serde, std's generic
# collections and sort, formatting, the rest of std.
GROUPS = [
    "portplan_core..decode", "portplan_core6decode", "Deserialize", "Serialize",
    "serde_json", "portplan_core8backends", "portplan_core5rules",
    "portplan_core7resolve", "portplan_core6report", "portplan_core7sources",
    "portplan_core6render", "portplan_core5reach", "portplan_core", "ipnet", "csv",
    "miniz_oxide", "sort", "btree", "hashbrown", "fmt", "alloc", "core", "extism",
]


def leb(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def read(path: str) -> tuple[list[int], dict[int, str], int, int]:
    """(body sizes, names by function index, imported functions, data bytes)."""
    data = open(path, "rb").read()
    i, imported, bodies, names, data_size = 8, 0, [], {}, 0
    while i < len(data):
        section = data[i]
        size, i = leb(data, i + 1)
        end = i + size
        if section == 2:  # imports: count the functions, they come first
            count, j = leb(data, i)
            for _ in range(count):
                for _ in range(2):
                    length, j = leb(data, j)
                    j += length
                kind = data[j]
                j += 1
                if kind == 0:
                    _, j = leb(data, j)
                    imported += 1
                elif kind == 1:
                    j += 1
                    flags, j = leb(data, j)
                    _, j = leb(data, j)
                    if flags & 1:
                        _, j = leb(data, j)
                elif kind == 2:
                    flags, j = leb(data, j)
                    _, j = leb(data, j)
                    if flags & 1:
                        _, j = leb(data, j)
                elif kind == 3:
                    j += 2
        elif section == 10:  # code
            count, j = leb(data, i)
            for _ in range(count):
                length, j = leb(data, j)
                bodies.append(length)
                j += length
        elif section == 11:
            data_size = size
        elif section == 0:  # custom: the name section's function names
            length, j = leb(data, i)
            if data[j:j + length] == b"name":
                j += length
                while j < end:
                    sub, size_sub = data[j], None
                    size_sub, j = leb(data, j + 1)
                    if sub == 1:
                        count, k = leb(data, j)
                        for _ in range(count):
                            index, k = leb(data, k)
                            length, k = leb(data, k)
                            names[index] = data[k:k + length].decode("utf-8", "replace")
                            k += length
                    j += size_sub
        i = end
    return bodies, names, imported, data_size


# Each copy of a std sort has one body of its recursive quicksort, which is
# never inlined; float formatting has its two entry points, shortest and
# exact: (name part, fewest and most copies allowed, who holds them, what to
# do when the count is off).
SORT_HINT = ("a sort was added outside core/src/order.rs, or a collect into a "
             "BTreeSet/BTreeMap, or ipnet's aggregate: sort with order::sort_by, fill "
             "with order::set/map, aggregate with nets::aggregate")
FLOAT_HINT = ("a float is formatted (`{}` or `{:e}` of an f32/f64, or serde's Display for "
              "Unexpected: word errors through decode.rs's Said)")
PARSE_HINT = ("a float is parsed (`str::parse` of an f32/f64, or the csv crate's writer, "
              "whose NonNumeric style parses every field: write CSV with render::csv_record)")
TABLE_HINT = ("a std or hashbrown HashMap/HashSet was added: use core's table::Map/Set, "
              "whose one hash table is the same type for every map (core/src/table.rs)")
INFLATE_HINT = ("miniz_oxide's inflate is linked: inflate with core's inflate::inflate "
                "(miniz_oxide is for build.rs and the tests)")
VALUE_HINT = ("serde_json's `from_str` is linked (with `Value: Deserialize`, a second JSON "
              "reader): read JSON text with decode::read_any")
WRITER_HINT = ("serde_json's writer is linked (`Value: Serialize`, by `to_string` or `{}` of a "
               "Value): write JSON with core's encode.rs (or, for a number, `Number`'s Display)")
CLONE_HINT = ("a serde_json `Value` is cloned (~1.5 KB of recursive clone): borrow from the "
              "tree read (`.map_or(&[][..], Vec::as_slice)`, not `.cloned().unwrap_or_default()`)")
DEBUG_HINT = ("a string is written with `{:?}` (or through serde_json's Unexpected, "
              "which a visitor's default method names the value with): quote with "
              "decode::debug_quoted, and answer every value a visitor meets")
COPIES = [
    ("sort6stable9quicksort9quicksort17h", 0, 0, "core's order::positions merges",
     SORT_HINT),
    ("sort8unstable9quicksort9quicksort17h", 0, 0, "core's nets replaced ipnet's aggregate",
     SORT_HINT),
    ("3fmt5float", 0, 0, "core::fmt::float", FLOAT_HINT),
    ("7flt2dec", 0, 0, "core::num::flt2dec", FLOAT_HINT),
    ("7dec2flt", 0, 0, "core::num::dec2flt", PARSE_HINT),
    ("11miniz_oxide7inflate", 0, 0, "core's inflate.rs", INFLATE_HINT),
    ("10serde_json2de8from_str", 0, 0, "core's decode::read_any", VALUE_HINT),
    ("for$u20$serde_json..value..Value$GT$9serialize", 0, 0, "core's encode.rs", WRITER_HINT),
    ("serde_json..value..Value$u20$as$u20$core..clone..Clone", 0, 0, "borrowed", CLONE_HINT),
    # `<str as Debug>::fmt` or `<&str as Debug>::fmt`, by its v0 name (a
    # regular expression: the back-reference in it varies by build).
    (r"re:4core3fmtR?eNtB[0-9a-z]*_5Debug3fmt", 0, 0, "core's decode::debug_quoted",
     DEBUG_HINT),
    # A hash table's growth is one copy per table type.
    ("14reserve_rehash17h", 1, 2, "core's table::Index and serde_json's IndexMap", TABLE_HINT),
]


def check_copies(names: dict[int, str]) -> int:
    hints = []
    for part, fewest, most, holders, hint in COPIES:
        pattern = part.removeprefix("re:")
        copies = sum(bool(re.search(pattern, name)) if pattern != part else part in name
                     for name in names.values())
        ok = fewest <= copies <= most
        if not ok and hint not in hints:
            hints.append(hint)
        allowed = "none allowed" if most == 0 else f"{fewest}-{most}: {holders}"
        print(f"{'ok' if ok else 'FAILED'}: {copies} named *{pattern.removesuffix('17h')}* "
              f"({allowed})")
    for hint in hints:
        print(hint)
    return 1 if hints else 0


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    unknown = [a for a in argv if a.startswith("--") and a not in ("--top", "--check-copies")]
    if unknown:
        print(f"unknown option {unknown[0]}\n{__doc__}", file=sys.stderr)
        return 2
    top = int(argv[argv.index("--top") + 1]) if "--top" in argv else 0
    paths = [a for i, a in enumerate(argv)
             if not a.startswith("--") and (i == 0 or argv[i - 1] != "--top")]
    if len(paths) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    path = paths[0]
    bodies, names, imported, data_size = read(path)
    if "--check-copies" in argv:
        if not names:
            print(f"{path}: no function names (a stripped build?)")
            return 1
        print(path)
        return check_copies(names)
    functions = [(size, names.get(imported + k, "?")) for k, size in enumerate(bodies)]
    print(f"code {sum(bodies)} bytes in {len(bodies)} functions, data {data_size} bytes")
    groups = Counter()
    for size, name in functions:
        groups[next((g for g in GROUPS if g in name), "other")] += size
    for group, size in groups.most_common():
        print(f"{size:>8}  {group}")
    for size, name in sorted(functions, reverse=True)[:top]:
        print(f"{size:>8}  {name[:160]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
