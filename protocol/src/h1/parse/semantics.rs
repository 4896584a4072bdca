//! Checks across header fields once the section is complete (RFC 9112 §6, §9.3;
//! RFC 9110 §7.2): body framing, Host, persistence, upgrade and 100-continue.

use super::headers::Fields;
use super::{host, RequestHead, TargetForm};
use crate::h1::error::BadRequest;
use crate::h1::{BodyFraming, ParseError, Span, Version};

/// Derive `head.framing`, `head.host`, `head.keep_alive`, `head.upgrade` and
/// `head.expect_continue`, rejecting ambiguous framing and bad or mismatched Host.
#[inline(always)]
pub(super) fn apply(
    buf: &[u8],
    fields: &Fields,
    authority: Option<Span>,
    head: &mut RequestHead,
) -> Result<(), ParseError> {
    let http11 = head.version == Version::Http11;
    head.framing = if fields.transfer_encoding {
        if !http11 {
            return Err(BadRequest::TransferEncodingOnHttp10.into());
        }
        if fields.content_length.is_some() {
            return Err(BadRequest::ContentLengthWithTransferEncoding.into());
        }
        if !fields.chunked_last {
            return Err(BadRequest::UnsupportedTransferEncoding.into());
        }
        BodyFraming::Chunked
    } else if let Some(n) = fields.content_length {
        BodyFraming::Length(n)
    } else {
        BodyFraming::Empty
    };

    match fields.host {
        None if http11 => return Err(BadRequest::MissingHost.into()),
        None => {}
        Some(host_span) => {
            let value = bytes(buf, host_span);
            if value.is_empty() {
                match head.target_form {
                    TargetForm::Absolute => return Err(BadRequest::HostMismatch.into()),
                    TargetForm::Authority => return Err(BadRequest::InvalidHost.into()),
                    TargetForm::Origin | TargetForm::Asterisk => {}
                }
            } else if !host::is_valid_host_in(buf, host_span.start as usize, value) {
                return Err(BadRequest::InvalidHost.into());
            } else if let Some(authority) = authority {
                if !bytes(buf, authority).eq_ignore_ascii_case(value) {
                    return Err(BadRequest::HostMismatch.into());
                }
            }
        }
    }
    head.host = fields.host;

    head.keep_alive = !fields.conn_close && (http11 || fields.conn_keep_alive);
    head.upgrade = http11 && fields.conn_upgrade && fields.upgrade;
    head.expect_continue = http11 && fields.expect_continue;
    Ok(())
}

fn bytes(buf: &[u8], s: Span) -> &[u8] {
    buf.get(s.start as usize..s.end as usize)
        .unwrap_or_default()
}
