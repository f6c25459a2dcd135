//! Page rendering with minijinja. Templates are files under `templates/`,
//! embedded in release builds; `t('key')` translates in the page's language.

use std::sync::OnceLock;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, State, Value, context};

use crate::i18n::{self, Lang};

#[derive(rust_embed::RustEmbed)]
#[folder = "$CARGO_MANIFEST_DIR/templates"]
struct Templates;

fn build_env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    for name in Templates::iter() {
        if let Some(f) = Templates::get(&name) {
            let src = String::from_utf8_lossy(&f.data).into_owned();
            if let Err(e) = env.add_template_owned(name.to_string(), src) {
                tracing::error!(template = %name, error = %e, "template does not parse");
            }
        }
    }
    env.add_function("t", |state: &State, key: &str| -> String {
        let lang = state.lookup("lang").and_then(|v| v.as_str().map(Lang::parse)).unwrap_or_default();
        i18n::t(lang, key)
    });
    env
}

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(build_env)
}

/// Names of every template, for the test that renders them all.
pub fn template_names() -> Vec<String> {
    Templates::iter().map(|n| n.to_string()).collect()
}

/// Renders a template to a string; a template error is logged and shown as a plain message.
pub fn render_str(name: &str, ctx: Value) -> Result<String, minijinja::Error> {
    env().get_template(name)?.render(ctx)
}

pub fn render(status: StatusCode, name: &str, ctx: Value) -> Response {
    match render_str(name, ctx) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            let reference = dayi_app::internal(format!("template {name}: {e:#}"));
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html(format!(
                    "<h1>{}</h1><p>{}</p>",
                    crate::i18n::t(crate::i18n::Lang::Zh, "error.render"),
                    reference.zh()
                )),
            )
                .into_response()
        }
    }
}

/// A friendly error page (no session needed).
pub fn error_page(status: StatusCode, lang: Lang, title: &str, message: &str, code: &str) -> Response {
    render(
        status,
        "error.html",
        context! { lang => lang.code(), title => title, message => message, code => code, status => status.as_u16() },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses_and_renders_in_both_languages() {
        let names = template_names();
        assert!(names.len() >= 10, "{names:?}");
        for name in names {
            for lang in ["zh-CN", "en"] {
                let html = render_str(&name, context! { lang => lang, csrf => "t" })
                    .unwrap_or_else(|e| panic!("{name} ({lang}): {e:#}"));
                assert!(!html.contains("{{") && !html.contains("{%"), "{name} left template syntax");
            }
        }
    }

    #[test]
    fn translations_are_used_in_the_page_language() {
        let zh = render_str(
            "error.html",
            context! { lang => "zh-CN", title => "x", message => "y", code => "c", status => 404 },
        )
        .unwrap();
        let en = render_str(
            "error.html",
            context! { lang => "en", title => "x", message => "y", code => "c", status => 404 },
        )
        .unwrap();
        assert!(zh.contains("返回工作台"));
        assert!(en.contains("Back to the console"));
    }
}
