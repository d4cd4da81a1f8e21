//! `#[derive(Decode)]`: how portplan-core's path-tracking walker decodes a
//! contract type, read from the type's own `#[serde(...)]` attributes, so
//! that field names, defaults and variants stay stated once (serde's derive
//! reads the same attributes for the native fast path and for output).
//!
//! What it is for: the records and enums of portplan's contract (core's
//! model, the plugins' inputs). The code it writes is small on purpose: each
//! record hands its members to one shared, non-generic walk
//! (`Node::record`), each enum its variant to another (`Node::variant`),
//! and only the per-field calls are the type's own. serde's derived visitors
//! were the largest part of the WebAssembly plugins (issue 16); the messages
//! stay serde's words (core's `decode` module says which).
//!
//! What it is not: a general serde replacement. It knows exactly the serde
//! attributes the contract uses (`rename_all = "kebab-case"`,
//! `deny_unknown_fields` and `transparent` on a type, `default` on a field)
//! and the shapes it has (records, a one-field transparent tuple struct,
//! enums of unit and one-field variants). Anything else is a compile error
//! naming the attribute or shape, never a silent difference from serde.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::quote;
use syn::{Data, DeriveInput, Error, Fields, Ident, LitStr, Type, parse_macro_input};

/// Derives `portplan_core::Decode` from the type's serde attributes.
#[proc_macro_derive(Decode, attributes(serde))]
pub fn derive_decode(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(&input)
        .unwrap_or_else(Error::into_compile_error)
        .into()
}

/// The container's serde attributes that change decoding.
#[derive(Default)]
struct Container {
    kebab: bool,
    transparent: bool,
}

fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    if !input.generics.params.is_empty() {
        return Err(Error::new_spanned(
            &input.generics,
            "Decode: generic types are not supported",
        ));
    }
    let container = container(input)?;
    let name = &input.ident;
    let body = match &input.data {
        Data::Struct(data) if container.transparent => transparent(name, &data.fields)?,
        Data::Struct(data) => record(name, &data.fields, &container)?,
        Data::Enum(data) => choice(name, data, &container)?,
        Data::Union(_) => return Err(Error::new_spanned(name, "Decode: unions are not supported")),
    };
    Ok(quote! {
        impl ::portplan_core::Decode for #name {
            fn decode(
                node: ::portplan_core::__decode::Node<'_>,
            ) -> ::core::result::Result<Self, ::portplan_core::__decode::Error> {
                #body
            }
        }
    })
}

/// `#[serde(...)]` on the type: `rename_all = "kebab-case"`,
/// `deny_unknown_fields` (every record is strict anyway: the walker notes
/// every unknown member) and `transparent`.
fn container(input: &DeriveInput) -> syn::Result<Container> {
    let mut container = Container::default();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename_all") {
                let rule: LitStr = meta.value()?.parse()?;
                if rule.value() != "kebab-case" {
                    return Err(meta.error("Decode: only rename_all = \"kebab-case\" is supported"));
                }
                container.kebab = true;
            } else if meta.path.is_ident("deny_unknown_fields") {
            } else if meta.path.is_ident("transparent") {
                container.transparent = true;
            } else {
                return Err(meta.error("Decode: this serde attribute is not supported"));
            }
            Ok(())
        })?;
    }
    Ok(container)
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
                Err(meta.error("Decode: only #[serde(default)] is supported on a field"))
            }
        })?;
    }
    Ok(default)
}

/// `#[serde(transparent)]` over one field: the field's own decoding, at the
/// same node.
fn transparent(name: &Ident, fields: &Fields) -> syn::Result<Tokens> {
    let field = match fields {
        Fields::Unnamed(f) if f.unnamed.len() == 1 => &f.unnamed[0],
        _ => {
            return Err(Error::new_spanned(
                name,
                "Decode: transparent needs one unnamed field",
            ));
        }
    };
    let ty = &field.ty;
    Ok(quote! {
        <#ty as ::portplan_core::Decode>::decode(node).map(#name)
    })
}

/// A record: its known members handed to the field they name, in document
/// order; the walk then refuses the first required field the input lacks
/// (in declaration order, as serde does), so building it needs no error
/// path per field: a default field takes its default, an `Option` `None`
/// (serde's rule for a missing `Option`), and every required one is there.
fn record(name: &Ident, fields: &Fields, container: &Container) -> syn::Result<Tokens> {
    let named: Vec<&syn::Field> = match fields {
        Fields::Named(f) => f.named.iter().collect(),
        Fields::Unit => Vec::new(),
        Fields::Unnamed(_) => {
            return Err(Error::new_spanned(
                name,
                "Decode: tuple structs need #[serde(transparent)]",
            ));
        }
    };
    if named.len() > 64 {
        return Err(Error::new_spanned(name, "Decode: more than 64 fields"));
    }
    let expecting = format!("struct {name}");
    let (mut keys, mut slots, mut arms, mut values) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut required, mut present, mut taken) = (0u64, Vec::new(), Vec::new());
    for (i, field) in named.iter().enumerate() {
        let ident = field
            .ident
            .as_ref()
            .ok_or_else(|| Error::new_spanned(field, "Decode: an unnamed field"))?;
        let slot = Ident::new(&format!("field{i}"), Span::call_site());
        let ty: &Type = &field.ty;
        slots.push(
            quote! { let mut #slot: ::core::option::Option<#ty> = ::core::option::Option::None; },
        );
        arms.push(quote! {
            #i => ::portplan_core::__decode::put(&mut #slot, child)?,
        });
        if defaulted(field)? || is_option(ty) {
            values.push(quote! { #ident: #slot.unwrap_or_default() });
        } else {
            required |= 1 << i;
            present.push(quote! { ::core::option::Option::Some(#slot) });
            taken.push(slot.clone());
            values.push(quote! { #ident: #slot });
        }
        keys.push(key(ident, container.kebab));
    }
    let build = if matches!(fields, Fields::Unit) {
        quote! { #name }
    } else {
        quote! { #name { #(#values,)* } }
    };
    // An empty record still walks its members: each one is unknown.
    let handle = if arms.is_empty() {
        quote! { &mut |_, _| ::core::result::Result::Ok(()) }
    } else {
        quote! {
            &mut |i, child| {
                match i {
                    #(#arms)*
                    _ => {}
                }
                ::core::result::Result::Ok(())
            }
        }
    };
    // The walk noted every problem; when it answers `Ok`, every required
    // field is there, so the other arm only passes a failed walk on. One
    // arm for every failure: the slots' drop code is written once.
    Ok(quote! {
        const FIELDS: &[&str] = &[#(#keys),*];
        #(#slots)*
        let walked = node.record(#expecting, FIELDS, #required, #handle);
        match (walked, #(#taken,)*) {
            (::core::result::Result::Ok(()), #(#present,)*) => ::core::result::Result::Ok(#build),
            (walked, ..) => ::core::result::Result::Err(
                walked.err().unwrap_or(::portplan_core::__decode::Error::Noted),
            ),
        }
    })
}

/// Whether a field's type is written `Option<...>`: serde decodes a missing
/// one as `None` (its `missing_field` asks the type), which every contract
/// `Option` relies on; the contract names no `Option` through an alias.
fn is_option(ty: &Type) -> bool {
    match ty {
        Type::Path(path) if path.qself.is_none() => path
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "Option"),
        _ => false,
    }
}

/// An enum, externally tagged as serde_json writes it: a unit variant is its
/// name, a one-field variant an object of one member named after it.
fn choice(name: &Ident, data: &syn::DataEnum, container: &Container) -> syn::Result<Tokens> {
    let mut names = Vec::new();
    let mut values = Vec::new();
    for variant in &data.variants {
        if let Some(attr) = variant.attrs.iter().find(|a| a.path().is_ident("serde")) {
            return Err(Error::new_spanned(
                attr,
                "Decode: serde attributes on a variant are not supported",
            ));
        }
        let ident = &variant.ident;
        values.push(match &variant.fields {
            Fields::Unit => quote! { variant.unit().map(|()| #name::#ident) },
            Fields::Unnamed(f) if f.unnamed.len() == 1 => {
                let ty = &f.unnamed[0].ty;
                quote! { variant.newtype::<#ty>().map(#name::#ident) }
            }
            _ => {
                return Err(Error::new_spanned(
                    variant,
                    "Decode: only unit and one-field variants are supported",
                ));
            }
        });
        let ident = ident.to_string();
        names.push(if container.kebab {
            kebab_variant(&ident)
        } else {
            ident
        });
    }
    // The walk answers only with an index below VARIANTS' length, so the
    // last variant takes the rest (no unreachable arm, no panic).
    let Some(last) = values.pop() else {
        return Err(Error::new_spanned(name, "Decode: an enum without variants"));
    };
    let indexes = 0..values.len();
    Ok(quote! {
        const VARIANTS: &[&str] = &[#(#names),*];
        let chosen = node.variant(VARIANTS).and_then(|(i, variant)| match i {
            #(#indexes => #values,)*
            _ => #last,
        });
        node.end(chosen)
    })
}

/// A field's key: its name, kebab-case under `rename_all` (serde's rule:
/// every `_` becomes `-`); a raw identifier's `r#` is not part of it.
fn key(ident: &Ident, kebab: bool) -> String {
    let name = ident.to_string();
    let name = name.strip_prefix("r#").unwrap_or(&name).to_string();
    if kebab { name.replace('_', "-") } else { name }
}

/// A variant's name in kebab-case, as serde writes it: a `-` before every
/// upper-case letter but the first, all in lower case (`WrongResponder` is
/// `wrong-responder`).
fn kebab_variant(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn derive(text: &str) -> Result<String, String> {
        let input: DeriveInput = syn::parse_str(text).map_err(|e| e.to_string())?;
        expand(&input)
            .map(|tokens| tokens.to_string())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn every_serde_attribute_it_does_not_know_is_a_compile_error() {
        for refused in [
            "#[serde(rename_all = \"camelCase\")] struct A { a: u8 }",
            "#[serde(tag = \"kind\")] enum A { B(u8) }",
            "#[serde(untagged)] enum A { B(u8) }",
            "struct A { #[serde(rename = \"b\")] a: u8 }",
            "struct A { #[serde(default = \"f\")] a: u8 }",
            "struct A { #[serde(skip)] a: u8 }",
            "struct A { #[serde(flatten)] a: B }",
            "enum A { #[serde(rename = \"c\")] B }",
            "enum A { B { x: u8 } }",
            "enum A { B(u8, u8) }",
            "enum A {}",
            "struct A(u8);",
            "struct A<T> { a: T }",
        ] {
            let error = derive(refused).expect_err(refused);
            assert!(error.starts_with("Decode:"), "{refused}: {error}");
        }
    }

    #[test]
    fn names_are_serdes_kebab_case() {
        let record = derive(
            "#[serde(rename_all = \"kebab-case\")] struct A { same_on_all_hosts: bool, r#type: u8 }",
        )
        .expect("derived");
        assert!(
            record.contains("\"same-on-all-hosts\" , \"type\""),
            "{record}"
        );
        let choice = derive("#[serde(rename_all = \"kebab-case\")] enum A { WrongResponder, Tcp }")
            .expect("derived");
        assert!(choice.contains("\"wrong-responder\" , \"tcp\""), "{choice}");
        let plain = derive("struct A { same_on_all_hosts: bool }").expect("derived");
        assert!(plain.contains("\"same_on_all_hosts\""), "{plain}");
    }

    #[test]
    fn only_fields_without_default_or_option_are_required() {
        // Bits of the `required` mask: `a` (0) and `d` (3), not the default
        // `b` nor the `Option` `c`.
        let record = derive(
            "struct A { a: u8, #[serde(default)] b: u8, c: Option<u8>, d: std::vec::Vec<u8> }",
        )
        .expect("derived");
        assert!(record.contains("FIELDS , 9u64"), "{record}");
    }
}
