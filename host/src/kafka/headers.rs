//! Reading a consumed record's headers without trusting their names.
//!
//! rust-rdkafka's `Headers::get` unwraps the name as UTF-8 and panics on
//! anything else, and a header name is whatever a producer sent: one
//! hostile record would take the poll thread down. This reads the names as
//! bytes through librdkafka's C API; the caller decides what a name that is
//! not text means.
#![allow(unsafe_code)]

use rdkafka::bindings as rd;
use rdkafka::message::BorrowedMessage;
use std::ffi::CStr;

/// The headers of `m` as (name, value) bytes, in order.
pub fn raw<'a>(m: &'a BorrowedMessage<'_>) -> Vec<(&'a [u8], Option<&'a [u8]>)> {
    let mut hdrs: *mut rd::rd_kafka_headers_t = std::ptr::null_mut();
    // SAFETY: `m.ptr()` is a live message; the headers it returns belong to
    // it and live as long as `m`, which bounds the returned slices.
    let err = unsafe { rd::rd_kafka_message_headers(m.ptr(), &mut hdrs) };
    if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || hdrs.is_null() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for idx in 0.. {
        let (mut name, mut value, mut size) = (std::ptr::null(), std::ptr::null(), 0usize);
        // SAFETY: `hdrs` is valid (above); librdkafka fills the pointers
        // with data owned by the headers, or returns an error past the end.
        let err =
            unsafe { rd::rd_kafka_header_get_all(hdrs, idx, &mut name, &mut value, &mut size) };
        if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || name.is_null() {
            break;
        }
        // SAFETY: librdkafka stores header names NUL-terminated; a null
        // value pointer is a null header value.
        let name = unsafe { CStr::from_ptr(name) }.to_bytes();
        let value = (!value.is_null())
            .then(|| unsafe { std::slice::from_raw_parts(value.cast::<u8>(), size) });
        out.push((name, value));
    }
    out
}

/// Why a header name cannot be passed on as text, if it cannot.
pub fn name_problem(idx: usize, name: &[u8]) -> Option<String> {
    std::str::from_utf8(name).err().map(|_| {
        let hex: Vec<String> = name.iter().take(32).map(|b| format!("{b:02x}")).collect();
        format!(
            "header {idx}'s name is not UTF-8 (bytes {}); header names reach plugins as text, \
             so the record is dead-lettered as it came (that name shown with U+FFFD)",
            hex.join(" ")
        )
    })
}
