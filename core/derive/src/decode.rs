//! `#[derive(Decode)]`: the walk's decoding of a contract type.

use proc_macro2::{Span, TokenStream as Tokens};
use quote::quote;
use syn::Ident;

use crate::{Field, Kind, Shape, Variant};

pub(crate) fn expand(shape: &Shape) -> syn::Result<Tokens> {
    let name = shape.name;
    let mut absent = quote! {};
    let body = match &shape.kind {
        // The field's own decoding, at the same node; absent as it may be
        // (serde's `transparent` asks the field's type too).
        Kind::Transparent(ty) => {
            absent = quote! {
                const OPTIONAL: bool = <#ty as ::portplan_core::Decode>::OPTIONAL;
                fn absent() -> ::core::option::Option<Self> {
                    <#ty as ::portplan_core::Decode>::absent().map(#name)
                }
            };
            quote! { <#ty as ::portplan_core::Decode>::decode(node).map(#name) }
        }
        Kind::Record(fields) => record(shape, fields),
        Kind::Choice(variants) => choice(name, variants),
    };
    Ok(quote! {
        impl ::portplan_core::Decode for #name {
            #absent

            fn decode(
                node: ::portplan_core::__decode::Node<'_>,
            ) -> ::core::result::Result<Self, ::portplan_core::__decode::Error> {
                #body
            }
        }
    })
}

/// A record: its known members handed to the field they name, in document
/// order; the walk then refuses the first required field the input lacks
/// (in declaration order, as serde does), so building it needs no error
/// path per field. A field is required unless it says `#[serde(default)]`
/// (then it takes its default) or its type is optional (`Decode::OPTIONAL`:
/// an `Option`, which is then `None`, serde's rule for a missing `Option`).
fn record(shape: &Shape, fields: &[Field]) -> Tokens {
    let name = shape.name;
    let expecting = format!("struct {name}");
    let (mut slots, mut arms, mut values) = (Vec::new(), Vec::new(), Vec::new());
    let (mut required, mut taken, mut present) = (Vec::new(), Vec::new(), Vec::new());
    for (i, field) in fields.iter().enumerate() {
        let (ident, ty) = (field.ident, field.ty);
        let slot = Ident::new(&format!("field{i}"), Span::call_site());
        slots.push(
            quote! { let mut #slot: ::core::option::Option<#ty> = ::core::option::Option::None; },
        );
        arms.push(quote! { #i => ::portplan_core::__decode::put(&mut #slot, child)?, });
        if field.default {
            values.push(quote! { #ident: #slot.unwrap_or_default() });
        } else {
            required
                .push(quote! { | ((!<#ty as ::portplan_core::Decode>::OPTIONAL as u64) << #i) });
            taken.push(quote! { #slot.or_else(<#ty as ::portplan_core::Decode>::absent) });
            present.push(quote! { ::core::option::Option::Some(#slot) });
            values.push(quote! { #ident: #slot });
        }
    }
    let keys = fields.iter().map(|field| &field.key);
    let build = quote! { #name { #(#values,)* } };
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
    // field is there (and an absent optional one is `Some(None)`), so the
    // other arm only passes a failed walk on. One arm for every failure:
    // the slots' drop code is written once.
    quote! {
        const FIELDS: &[&str] = &[#(#keys),*];
        const REQUIRED: u64 = 0 #(#required)*;
        #(#slots)*
        let walked = node.record(#expecting, FIELDS, REQUIRED, #handle);
        match (walked, #(#taken,)*) {
            (::core::result::Result::Ok(()), #(#present,)*) => ::core::result::Result::Ok(#build),
            (walked, ..) => ::core::result::Result::Err(
                walked.err().unwrap_or(::portplan_core::__decode::Error::Noted),
            ),
        }
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
