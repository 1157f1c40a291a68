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
    #[error("数据完整性校验失败：{0}")]
    Integrity(String),
    #[error("登录数据无法解密，请刷新页面后重试")]
    BadEnvelope,
    #[error("登录请求已失效或被重复提交，请刷新页面后重试")]
    NonceInvalid,
    #[error("请使用加密方式提交登录口令")]
    EnvelopeRequired,
    #[error("此操作需要动态口令二次认证")]
    MfaRequired,
    #[error("动态口令错误或已使用，连续失败多次将临时锁定账户")]
    MfaInvalid,
    #[error("请求过于频繁，请稍后再试")]
    RateLimited,
    #[error("当前网络地址不允许管理员登录")]
    IpNotAllowed,
    #[error("密码已超过有效期，请先修改密码")]
    PasswordExpired,
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
