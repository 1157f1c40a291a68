//! Field-level validation errors, collected so that a form can show every problem at once.

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    /// Chinese message for the user.
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError { field: field.to_owned(), message: message.into() });
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `Ok(())` when nothing was added.
    pub fn finish(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
    /// Checks a required free-text field: trimmed, non-empty, at most `max` characters, no control characters.
    pub fn text(&mut self, field: &str, label: &str, value: &str, max: usize) {
        let v = value.trim();
        if v.is_empty() {
            self.add(field, format!("{label}不能为空"));
        } else if v.chars().count() > max {
            self.add(field, format!("{label}不能超过{max}个字符"));
        } else if v.chars().any(|c| c.is_control()) {
            self.add(field, format!("{label}包含非法字符"));
        }
    }
}

impl std::fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for ValidationErrors {}
