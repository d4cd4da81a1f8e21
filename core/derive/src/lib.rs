//! `#[derive(Decode)]` and `#[derive(Encode)]`: how portplan-core reads and
//! writes a contract type as JSON, derived from the type's own
//! `#[serde(...)]` attributes, so that field names, defaults and variants
//! stay stated once (serde's derives read the same attributes for the native
//! fast path and for native shells that serialise with serde).
//!
//! What it is for: the records and enums of portplan's contract (core's
//! model, the plugins' inputs). The code it writes is small on purpose, for
//! the WebAssembly plugins (issue 16):
//! - `Decode` (`decode.rs`): each record hands its members to one shared,
//!   non-generic walk (`Node::record`), each enum its variant to another
//!   (`Node::variant`), and only the per-field calls are the type's own.
//!   serde's derived visitors were the largest part of the plugins.
//! - `Encode` (`encode.rs`): a call per field into one writer whose form
//!   (compact or pretty) is chosen at run time, where serde's derived
//!   serialisers were compiled once per serde_json formatter.
//!
//! The words and bytes stay serde's and serde_json's (core's `decode` and
//! `encode` modules say how that is tested).
//!
//! What it is not: a general serde replacement. It knows exactly the serde
//! attributes the contract uses (`rename_all = "kebab-case"`,
//! `deny_unknown_fields` and `transparent` on a type, `default` on a field)
//! and the shapes it has (records, a one-field transparent tuple struct,
//! enums of unit and one-field variants). Anything else is a compile error
//! naming the attribute or shape, never a silent difference from serde.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use syn::{Data, DeriveInput, Error, Fields, Ident, LitStr, Type, parse_macro_input};

mod decode;
mod encode;

/// Derives `portplan_core::Decode` from the type's serde attributes.
#[proc_macro_derive(Decode, attributes(serde))]
pub fn derive_decode(input: TokenStream) -> TokenStream {
    derive(input, decode::expand)
}

/// Derives `portplan_core::Encode` from the type's serde attributes.
#[proc_macro_derive(Encode, attributes(serde))]
pub fn derive_encode(input: TokenStream) -> TokenStream {
    derive(input, encode::expand)
}

fn derive(input: TokenStream, expand: fn(&Shape) -> syn::Result<Tokens>) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    Shape::of(&input)
        .and_then(|shape| expand(&shape))
        .unwrap_or_else(Error::into_compile_error)
        .into()
}

/// A contract type as both derives see it, its serde attributes applied.
struct Shape<'a> {
    name: &'a Ident,
    kind: Kind<'a>,
}

enum Kind<'a> {
    /// `#[serde(transparent)]` over one unnamed field.
    Transparent(&'a Type),
    /// A record (a unit struct is one without fields).
    Record(Vec<Field<'a>>),
    /// An enum of unit and one-field variants, at least one.
    Choice(Vec<Variant<'a>>),
}

struct Field<'a> {
    ident: &'a Ident,
    ty: &'a Type,
    /// Its JSON key.
    key: String,
    /// `#[serde(default)]`.
    default: bool,
}

struct Variant<'a> {
    ident: &'a Ident,
    /// A one-field variant's payload type; `None` for a unit variant.
    payload: Option<&'a Type>,
    /// Its JSON name.
    name: String,
}

fn unsupported(spanned: impl quote::ToTokens, what: &str) -> Error {
    Error::new_spanned(spanned, format!("portplan-derive: {what}"))
}

impl<'a> Shape<'a> {
    fn of(input: &'a DeriveInput) -> syn::Result<Self> {
        if !input.generics.params.is_empty() {
            return Err(unsupported(
                &input.generics,
                "generic types are not supported",
            ));
        }
        let (kebab, transparent) = container(input)?;
        let name = &input.ident;
        let kind = match &input.data {
            Data::Struct(data) if transparent => match &data.fields {
                Fields::Unnamed(f) if f.unnamed.len() == 1 => {
                    Kind::Transparent(plain(&f.unnamed[0])?)
                }
                _ => return Err(unsupported(name, "transparent needs one unnamed field")),
            },
            Data::Struct(data) => Kind::Record(fields(name, &data.fields, kebab)?),
            Data::Enum(_) if transparent => {
                return Err(unsupported(name, "transparent is for structs"));
            }
            Data::Enum(data) => Kind::Choice(variants(name, data, kebab)?),
            Data::Union(_) => return Err(unsupported(name, "unions are not supported")),
        };
        Ok(Shape { name, kind })
    }
}

/// `#[serde(...)]` on the type: whether `rename_all = "kebab-case"` and
/// `transparent` are there. `deny_unknown_fields` changes nothing: every
/// record is strict (the walk notes every unknown member).
fn container(input: &DeriveInput) -> syn::Result<(bool, bool)> {
    let (mut kebab, mut transparent) = (false, false);
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename_all") {
                let rule: LitStr = meta.value()?.parse()?;
                if rule.value() != "kebab-case" {
                    return Err(meta
                        .error("portplan-derive: only rename_all = \"kebab-case\" is supported"));
                }
                kebab = true;
            } else if meta.path.is_ident("deny_unknown_fields") {
            } else if meta.path.is_ident("transparent") {
                transparent = true;
            } else {
                return Err(meta.error("portplan-derive: this serde attribute is not supported"));
            }
            Ok(())
        })?;
    }
    Ok((kebab, transparent))
}

/// A record's fields in declaration order, with their keys.
fn fields<'a>(name: &Ident, fields: &'a Fields, kebab: bool) -> syn::Result<Vec<Field<'a>>> {
    // A unit struct is `null` to serde, not a record: not supported.
    let named: Vec<&syn::Field> = match fields {
        Fields::Named(f) => f.named.iter().collect(),
        Fields::Unit => return Err(unsupported(name, "unit structs are not supported")),
        Fields::Unnamed(_) => {
            return Err(unsupported(
                name,
                "tuple structs need #[serde(transparent)]",
            ));
        }
    };
    if named.len() > 64 {
        return Err(unsupported(name, "more than 64 fields"));
    }
    named
        .into_iter()
        .map(|field| {
            let ident = field
                .ident
                .as_ref()
                .ok_or_else(|| unsupported(field, "an unnamed field"))?;
            Ok(Field {
                ident,
                ty: &field.ty,
                key: key(ident, kebab),
                default: defaulted(field)?,
            })
        })
        .collect()
}

/// Whether a field says `#[serde(default)]`, its only supported attribute.
fn defaulted(field: &syn::Field) -> syn::Result<bool> {
    let mut default = false;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("default") && meta.input.is_empty() {
                default = true;
                Ok(())
            } else {
                Err(meta.error("portplan-derive: only #[serde(default)] is supported on a field"))
            }
        })?;
    }
    Ok(default)
}

/// A field that may carry no serde attribute (a transparent struct's, a
/// variant's payload): its type.
fn plain(field: &syn::Field) -> syn::Result<&Type> {
    match field.attrs.iter().find(|a| a.path().is_ident("serde")) {
        Some(attr) => Err(unsupported(
            attr,
            "serde attributes on this field are not supported",
        )),
        None => Ok(&field.ty),
    }
}

/// An enum's variants, externally tagged as serde_json writes them.
fn variants<'a>(
    name: &Ident,
    data: &'a syn::DataEnum,
    kebab: bool,
) -> syn::Result<Vec<Variant<'a>>> {
    if data.variants.is_empty() {
        return Err(unsupported(name, "an enum without variants"));
    }
    data.variants
        .iter()
        .map(|variant| {
            if let Some(attr) = variant.attrs.iter().find(|a| a.path().is_ident("serde")) {
                return Err(unsupported(
                    attr,
                    "serde attributes on a variant are not supported",
                ));
            }
            let payload = match &variant.fields {
                Fields::Unit => None,
                Fields::Unnamed(f) if f.unnamed.len() == 1 => Some(plain(&f.unnamed[0])?),
                _ => {
                    return Err(unsupported(
                        variant,
                        "only unit and one-field variants are supported",
                    ));
                }
            };
            let ident = unraw(&variant.ident);
            Ok(Variant {
                ident: &variant.ident,
                payload,
                name: if kebab { kebab_variant(&ident) } else { ident },
            })
        })
        .collect()
}

/// A field's key: its name, kebab-case under `rename_all` (serde's rule:
/// every `_` becomes `-`); a raw identifier's `r#` is not part of it.
fn key(ident: &Ident, kebab: bool) -> String {
    let name = unraw(ident);
    if kebab { name.replace('_', "-") } else { name }
}

/// An identifier as serde names it: a raw one's `r#` is not part of it.
fn unraw(ident: &Ident) -> String {
    let name = ident.to_string();
    name.strip_prefix("r#").map_or(name.clone(), String::from)
}

/// A variant's name in kebab-case, serde's rule: snake case first (a `_`
/// before every upper-case letter but the first, all in lower case), then
/// every `_` a `-` (`WrongResponder` is `wrong-responder`, `Foo_Bar`
/// `foo--bar`).
fn kebab_variant(name: &str) -> String {
    let mut snake = String::new();
    for (i, c) in name.char_indices() {
        if i > 0 && c.is_uppercase() {
            snake.push('_');
        }
        snake.push(c.to_ascii_lowercase());
    }
    snake.replace('_', "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn derive(text: &str, expand: fn(&Shape) -> syn::Result<Tokens>) -> Result<String, String> {
        let input: DeriveInput = syn::parse_str(text).map_err(|e| e.to_string())?;
        Shape::of(&input)
            .and_then(|shape| expand(&shape))
            .map(|tokens| tokens.to_string())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn every_serde_attribute_or_shape_it_does_not_know_is_a_compile_error() {
        for refused in [
            "#[serde(rename_all = \"camelCase\")] struct A { a: u8 }",
            "#[serde(tag = \"kind\")] enum A { B(u8) }",
            "#[serde(untagged)] enum A { B(u8) }",
            "struct A { #[serde(rename = \"b\")] a: u8 }",
            "struct A { #[serde(default = \"f\")] a: u8 }",
            "struct A { #[serde(skip)] a: u8 }",
            "struct A { #[serde(skip_serializing_if = \"f\")] a: u8 }",
            "struct A { #[serde(flatten)] a: B }",
            "enum A { #[serde(rename = \"c\")] B }",
            "enum A { B { x: u8 } }",
            "enum A { B(u8, u8) }",
            "enum A {}",
            "struct A(u8);",
            "struct A;",
            "#[serde(transparent)] enum A { B(u8) }",
            "#[serde(transparent)] struct A(#[serde(with = \"m\")] u8);",
            "enum A { B(#[serde(deserialize_with = \"f\")] u8) }",
            "#[serde(transparent)] struct A { a: u8 }",
            "struct A<T> { a: T }",
        ] {
            for expand in [decode::expand, encode::expand] {
                let error = derive(refused, expand).expect_err(refused);
                assert!(error.starts_with("portplan-derive:"), "{refused}: {error}");
            }
        }
    }

    #[test]
    fn names_are_serdes_kebab_case() {
        let record = "#[serde(rename_all = \"kebab-case\")] struct A { same_on_all_hosts: bool, r#type: u8 }";
        let decoded = derive(record, decode::expand).expect("derived");
        assert!(
            decoded.contains("\"same-on-all-hosts\" , \"type\""),
            "{decoded}"
        );
        let encoded = derive(record, encode::expand).expect("derived");
        assert!(
            encoded.contains("out . key (\"same-on-all-hosts\")"),
            "{encoded}"
        );
        let choice = "#[serde(rename_all = \"kebab-case\")] enum A { WrongResponder, Tcp }";
        let decoded = derive(choice, decode::expand).expect("derived");
        assert!(
            decoded.contains("\"wrong-responder\" , \"tcp\""),
            "{decoded}"
        );
        let encoded = derive(choice, encode::expand).expect("derived");
        assert!(
            encoded.contains("out . string (\"wrong-responder\")"),
            "{encoded}"
        );
        let odd = "#[serde(rename_all = \"kebab-case\")] enum A { Foo_Bar, r#Type }";
        let decoded = derive(odd, decode::expand).expect("derived");
        assert!(decoded.contains("\"foo--bar\" , \"type\""), "{decoded}");
        let plain =
            derive("struct A { same_on_all_hosts: bool }", decode::expand).expect("derived");
        assert!(plain.contains("\"same_on_all_hosts\""), "{plain}");
    }

    #[test]
    fn a_transparent_type_is_absent_as_its_field_is() {
        let decoded = derive(
            "#[serde(transparent)] struct A(Option<u8>);",
            decode::expand,
        )
        .expect("derived");
        let optional =
            "const OPTIONAL : bool = < Option < u8 > as :: portplan_core :: Decode > :: OPTIONAL ;";
        assert!(decoded.contains(optional), "{decoded}");
        let absent = "A (< Option < u8 > as :: portplan_core :: Decode > :: placeholder ())";
        assert!(decoded.contains(absent), "{decoded}");
    }

    #[test]
    fn a_default_field_is_never_required_and_the_others_ask_their_type() {
        let record = derive(
            "struct A { a: u8, #[serde(default)] b: u8, c: Option<u8> }",
            decode::expand,
        )
        .expect("derived");
        let required = "const REQUIRED : u64 = 0 | ((! < u8 as :: portplan_core :: Decode > :: OPTIONAL as u64) << 0usize) | ((! < Option < u8 > as :: portplan_core :: Decode > :: OPTIONAL as u64) << 2usize) ;";
        assert!(record.contains(required), "{record}");
        // Absent, a default field keeps its default; an optional one its
        // placeholder (`None`).
        let placeholder = "A { a : < u8 as :: portplan_core :: Decode > :: placeholder () , b : :: core :: default :: Default :: default () , c : < Option < u8 > as :: portplan_core :: Decode > :: placeholder () , }";
        assert!(record.contains(placeholder), "{record}");
    }
}
