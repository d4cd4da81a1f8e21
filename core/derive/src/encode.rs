//! `#[derive(Encode)]`: a contract type written as JSON, a call per field.

use proc_macro2::TokenStream as Tokens;
use quote::quote;

use crate::{Kind, Shape};

pub(crate) fn expand(shape: &Shape) -> syn::Result<Tokens> {
    let name = shape.name;
    let body = match &shape.kind {
        Kind::Transparent(_) => quote! { ::portplan_core::Encode::encode(&self.0, out) },
        Kind::Record(fields) => {
            let keys = fields.iter().map(|field| &field.key);
            let idents = fields.iter().map(|field| field.ident);
            quote! {
                out.begin_object();
                #(
                    out.key(#keys);
                    ::portplan_core::Encode::encode(&self.#idents, out);
                )*
                out.end_object();
            }
        }
        Kind::Choice(variants) => {
            let arms = variants.iter().map(|variant| {
                let (ident, text) = (variant.ident, &variant.name);
                match variant.payload {
                    None => quote! { #name::#ident => out.string(#text), },
                    Some(_) => quote! { #name::#ident(payload) => out.variant(#text, payload), },
                }
            });
            quote! { match self { #(#arms)* } }
        }
    };
    Ok(quote! {
        impl ::portplan_core::Encode for #name {
            fn encode(&self, out: &mut ::portplan_core::__encode::Out) {
                #body
            }
        }
    })
}
