//! Errors of the identity and access engine. `tg-api` maps each variant to an HTTP status and a stable
//! code; the Chinese message is the `Display` text and is safe to show to users. Database errors carry
//! their cause for the log only.

use tg_kernel::ValidationErrors;

#[derive(Debug, thiserror::Error)]
pub enum IamError {
    #[error("用户名或密码错误，连续失败多次将临时锁定账户")]
    InvalidCredentials,
    #[error("请先登录")]
    Unauthenticated,
    #[error("登录已超时，请重新登录")]
    SessionExpired,
    #[error("没有执行此操作的权限")]
    Forbidden,
    #[error("超出您的数据权限范围")]
    OutOfScope,
    #[error("首次登录或密码已重置，请先修改密码")]
    PasswordChangeRequired,
    #[error("{0}")]
    RoleConflict(String),
    #[error("{0}")]
    WeakPassword(String),
    #[error("提交的数据有误")]
    Validation(ValidationErrors),
    #[error("{what}不存在")]
    NotFound { what: &'static str, code: &'static str },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("数据库错误")]
    Db(#[from] sqlx::Error),
    #[error("内部错误")]
    Internal(String),
}

impl IamError {
    pub fn not_found(what: &'static str, code: &'static str) -> Self {
        Self::NotFound { what, code }
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict { code, message: message.into() }
    }
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut v = ValidationErrors::new();
        v.add(field, message);
        Self::Validation(v)
    }
}

impl From<ValidationErrors> for IamError {
    fn from(v: ValidationErrors) -> Self {
        Self::Validation(v)
    }
}

pub type IamResult<T> = Result<T, IamError>;
