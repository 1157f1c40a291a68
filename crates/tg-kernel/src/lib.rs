//! Tongguan kernel: the vocabulary every other crate shares and nothing that does I/O.
//!
//! It owns region codes (GB/T 2260 / NBS statistical codes, extended by GB/T 30428 grid codes),
//! data scopes, paging, the injectable clock, and the validation error type with field details.

pub mod clock;
pub mod page;
pub mod pii;
pub mod region;
pub mod scope;
pub mod validate;

pub use clock::{Clock, FixedClock, SystemClock, Timestamp};
pub use page::{Page, PageQuery};
pub use region::{RegionCode, RegionLevel};
pub use scope::{DataScope, SecurityLabel};
pub use validate::{FieldError, ValidationErrors};
