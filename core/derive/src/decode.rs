//! `#[derive(Decode)]`: the walk's decoding of a contract type.

use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::Ident;

use crate::{Field, Kind, Shape, Variant};

pub(crate) fn expand(shape: &Shape) -> syn::Result<Tokens> {
    let name = shape.name;
    let mut optional = quote! {};
    let (placeholder, body) = match &shape.kind {
        // The field's own decoding, at the same node; optional as it is
        // (serde's `transparent` asks the field's type too).
        Kind::Transparent(ty) => {
            optional = quote! {
                const OPTIONAL: bool = <#ty as ::portplan_core::Decode>::OPTIONAL;
            };
            (
                quote! { #name(<#ty as ::portplan_core::Decode>::placeholder()) },
                quote! { <#ty as ::portplan_core::Decode>::decode(node).map(#name) },
            )
        }
        Kind::Record(fields) => (record_placeholder(name, fields), record(shape, fields)),
        Kind::Choice(variants) => (choice_placeholder(name, variants), choice(name, variants)),
    };
    Ok(quote! {
        impl ::portplan_core::Decode for #name {
            #optional

            fn placeholder() -> Self {
                #placeholder
            }

            fn decode(
                node: ::portplan_core::__decode::Node<'_>,
            ) -> ::core::result::Result<Self, ::portplan_core::__decode::Error> {
                #body
            }
        }
    })
}

/// A record before its members are decoded into it: each field its type's
/// placeholder, or its default where it says `#[serde(default)]` (what it
/// keeps when absent, as serde gives it).
fn record_placeholder(name: &Ident, fields: &[Field]) -> Tokens {
    let values = fields.iter().map(|field| {
        let (ident, ty) = (field.ident, field.ty);
        if field.default {
            quote! { #ident: ::core::default::Default::default() }
        } else {
            quote! { #ident: <#ty as ::portplan_core::Decode>::placeholder() }
        }
    });
    quote! { #name { #(#values,)* } }
}

/// An enum's placeholder: its first variant (`Shape` has at least one).
fn choice_placeholder(name: &Ident, variants: &[Variant]) -> Tokens {
    match variants.first() {
        Some(Variant {
            ident,
            payload: Some(ty),
            ..
        }) => quote! { #name::#ident(<#ty as ::portplan_core::Decode>::placeholder()) },
        Some(Variant { ident, .. }) => quote! { #name::#ident },
        None => quote! { ::core::compile_error!("portplan-derive: an enum without variants") },
    }
}

/// A record: its known members decoded into the fields they name, in
/// document order, over the record's placeholder; the walk then refuses the
/// first required field the input lacks (in declaration order, as serde
/// does), so a record it answers `Ok` for holds the input's value in every
/// required field, and building it needs no slot or error path per field.
/// A field is required unless it says `#[serde(default)]` (then it keeps
/// its default) or its type is optional (`Decode::OPTIONAL`: an `Option`,
/// whose placeholder is `None`, serde's rule for a missing `Option`).
fn record(shape: &Shape, fields: &[Field]) -> Tokens {
    let expecting = format!("struct {}", shape.name);
    let (mut arms, mut required) = (Vec::new(), Vec::new());
    for (i, field) in fields.iter().enumerate() {
        let (ident, ty) = (field.ident, field.ty);
        arms.push(quote! { #i => ::portplan_core::__decode::put(&mut value.#ident, child)?, });
        if !field.default {
            required
                .push(quote! { | ((!<#ty as ::portplan_core::Decode>::OPTIONAL as u64) << #i) });
        }
    }
    let keys = fields.iter().map(|field| &field.key);
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
    quote! {
        const FIELDS: &[&str] = &[#(#keys),*];
        const REQUIRED: u64 = 0 #(#required)*;
        let mut value = <Self as ::portplan_core::Decode>::placeholder();
        let walked = node.record(#expecting, FIELDS, REQUIRED, #handle);
        walked.map(|()| value)
    }
}

/// An enum: its variant's index among the names, then the unit or the
/// payload.
fn choice(name: &Ident, variants: &[Variant]) -> Tokens {
    let names = variants.iter().map(|variant| &variant.name);
    let mut values: Vec<Tokens> = variants
        .iter()
        .map(|variant| {
            let ident = variant.ident;
            match variant.payload {
                None => quote! { variant.unit().map(|()| #name::#ident) },
                Some(ty) => quote! { variant.newtype::<#ty>().map(#name::#ident) },
            }
        })
        .collect();
    // The walk answers only with an index below VARIANTS' length, so the
    // last variant takes the rest (no unreachable arm, no panic); `Shape`
    // has at least one.
    let last = values.pop().unwrap_or_default();
    let indexes = 0..values.len();
    quote! {
        const VARIANTS: &[&str] = &[#(#names),*];
        let chosen = node.variant(VARIANTS).and_then(|(i, variant)| match i {
            #(#indexes => #values,)*
            _ => #last,
        });
        node.end(chosen)
    }
}
