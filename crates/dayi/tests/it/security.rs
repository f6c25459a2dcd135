//! Defects an outside tester found (issue 22), each reproduced: guessing
//! portal cards, telling real user names from unknown ones, empty lists for
//! patients the caller cannot see, a doctor changing organisation settings,
//! and pages without anti-framing and content-type headers.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use dayi_app::Actor;
use dayi_core::patient::Channel;
use dayi_web::routes::{Need, specs};
use reqwest::redirect::Policy;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{ORG, PASSWORD, ROLE_USERS, TestApp};
use crate::queue::{Patient, adults};

crate::on_both!(
    portal_cards_cannot_be_guessed,
    unknown_and_real_user_names_answer_alike,
    patients_of_other_organisations_are_not_found,
    pages_forbid_framing_and_sniffing
);

/// A portal sign-in by ID number and card number from `from`.
async fn card_login(t: &TestApp, from: Ipv4Addr, id_number: &str, card: &str) -> (StatusCode, Value, Duration) {
    let c = Client::builder().local_address(IpAddr::V4(from)).build().unwrap();
    let started = Instant::now();
    let r = c
        .post(t.at("/portal/api/login"))
        .json(&json!({"org": ORG, "id_number": id_number, "card_no": card}))
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap(), started.elapsed())
}

/// What a refusal shows the person: status, code and message.
fn shown(v: &(StatusCode, Value, Duration)) -> (StatusCode, String, String) {
    (v.0, v.1["code"].as_str().unwrap_or("").into(), v.1["detail"].as_str().unwrap_or("").into())
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

/// Two timings are the same within noise.
fn alike(a: Duration, b: Duration) -> bool {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    hi - lo < Duration::from_millis(25) || hi.as_secs_f64() < lo.as_secs_f64() * 2.0
}

async fn portal_cards_cannot_be_guessed(t: &TestApp) {
    let ps: Vec<Patient> = adults(t, 500, 4).await;
    // Card numbers registered one after another do not follow from each other.
    let cards: Vec<u64> = ps.iter().map(|p| p.card.parse().unwrap()).collect();
    assert!(cards.iter().all(|c| c.to_string().len() == 12), "{cards:?}");
    assert!(cards.windows(2).any(|w| w[1] != w[0] + 1), "sequential card numbers: {cards:?}");
    // Counting up from one card does not reach the next patient's.
    let next = &ps[1];
    let guesses: Vec<String> = (1..=20).map(|i| (cards[0] + i).to_string()).collect();
    assert!(!guesses.contains(&next.card));

    // A real ID with wrong cards and an ID not on file answer alike, counting
    // down, then lock; timing does not tell them apart either.
    let me = Ipv4Addr::new(127, 0, 0, 1);
    let unknown = dayi_app::demo::people::person(999_999, 11, dayi_core::timefmt::today_cst()).id_number;
    let (mut real_times, mut unknown_times) = (vec![], vec![]);
    for left in (1..=4).rev() {
        let real = card_login(t, me, &next.id_number, &guesses[left]).await;
        let none = card_login(t, me, &unknown, &guesses[left]).await;
        assert_eq!(shown(&real), shown(&none), "attempt with {left} left");
        assert_eq!(real.0, StatusCode::UNAUTHORIZED);
        assert!(shown(&real).2.contains(&format!("还可尝试 {left} 次")), "{:?}", real.1);
        real_times.push(real.2);
        unknown_times.push(none.2);
    }
    let real = card_login(t, me, &next.id_number, "100000000000").await;
    let none = card_login(t, me, &unknown, "100000000000").await;
    assert_eq!((real.0, real.1["code"].as_str()), (StatusCode::LOCKED, Some("portal.locked")), "{:?}", real.1);
    assert_eq!(shown(&real), shown(&none));
    let (a, b) = (median(real_times), median(unknown_times));
    assert!(alike(a, b), "wrong card {a:?} vs unknown ID {b:?}");
    // Locked means locked, even with the right card; other patients are not affected.
    let right = card_login(t, me, &next.id_number, &next.card).await;
    assert_eq!(right.0, StatusCode::LOCKED);
    assert_eq!(card_login(t, me, &ps[2].id_number, &ps[2].card).await.0, StatusCode::OK);

    // The failures and the lock are audited with masked ID numbers.
    let auditor = t.as_user("auditor").await;
    let log: Value = auditor.get("/api/audit?action=portal.login&limit=50").await.json().await.unwrap();
    let failed = log.as_array().unwrap().iter().filter(|e| e["outcome"] == "failed").count();
    assert!(failed >= 10, "{log}");
    assert!(!log.to_string().contains(&next.id_number), "ID numbers are masked in the log");
}

/// Per address: with a limit of 8, the ninth sign-in from that address is
/// refused even with a right card, while another address still signs in.
async fn one_address_is_limited(t: &TestApp) {
    let ps = adults(t, 600, 9).await;
    let me = Ipv4Addr::new(127, 0, 0, 3);
    for p in &ps[..8] {
        let r = card_login(t, me, &p.id_number, "100000000000").await;
        assert_eq!(r.0, StatusCode::UNAUTHORIZED, "{:?}", r.1);
    }
    let p = &ps[8];
    let r = card_login(t, me, &p.id_number, &p.card).await;
    assert_eq!((r.0, r.1["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("auth.too_many_attempts")));
    assert!(shown(&r).2.contains("分钟后再试"), "{:?}", r.1);
    assert_eq!(card_login(t, Ipv4Addr::new(127, 0, 0, 4), &p.id_number, &p.card).await.0, StatusCode::OK);
    // Staff sign-in from that address is refused too; from another it is not.
    let (_, r) = staff_login(t, me, "doc01", PASSWORD).await;
    assert_eq!(r.0, StatusCode::TOO_MANY_REQUESTS);
    let (_, r) = staff_login(t, Ipv4Addr::new(127, 0, 0, 4), "doc01", PASSWORD).await;
    assert_eq!(r.0, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_is_limited_sqlite() {
    let t = TestApp::sqlite_with(|r| r.security.max_failed_logins_per_ip = 8).await;
    one_address_is_limited(&t).await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_is_limited_postgres() {
    match TestApp::postgres_with(|r| r.security.max_failed_logins_per_ip = 8).await {
        Some(t) => {
            one_address_is_limited(&t).await;
            t.stop().await;
        }
        None => eprintln!("PostgreSQL binaries not found: skipped"),
    }
}

/// A staff sign-in from `from`: the answer's status, its page text, and the time.
async fn staff_login(t: &TestApp, from: Ipv4Addr, user: &str, password: &str) -> (Duration, (StatusCode, String)) {
    let c =
        Client::builder().local_address(IpAddr::V4(from)).cookie_store(true).redirect(Policy::none()).build().unwrap();
    let page = c.get(t.at("/login")).send().await.unwrap().text().await.unwrap();
    let csrf = crate::harness::csrf_in(&page).unwrap();
    let started = Instant::now();
    let r = c
        .post(t.at("/login"))
        .form(&[("_csrf", csrf.as_str()), ("org", ORG), ("username", user), ("password", password)])
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    let status = r.status();
    let html = r.text().await.unwrap();
    // The message shown, without the form's echo of the user name.
    let message = html.split("role=\"alert\"").nth(1).and_then(|s| s.split('<').next()).unwrap_or("").to_string();
    (took, (status, message))
}

async fn unknown_and_real_user_names_answer_alike(t: &TestApp) {
    let me = Ipv4Addr::new(127, 0, 0, 1);
    let (mut real_times, mut unknown_times) = (vec![], vec![]);
    for left in (1..=4).rev() {
        let (a, real) = staff_login(t, me, "doc02", "wrong-password1").await;
        let (b, none) = staff_login(t, me, "nobody", "wrong-password1").await;
        assert_eq!(real, none, "attempt with {left} left");
        assert_eq!(real.0, StatusCode::UNAUTHORIZED);
        assert!(real.1.contains(&format!("还可尝试 {left} 次")), "{real:?}");
        real_times.push(a);
        unknown_times.push(b);
    }
    let (_, real) = staff_login(t, me, "doc02", "wrong-password1").await;
    let (_, none) = staff_login(t, me, "nobody", "wrong-password1").await;
    assert_eq!(real.0, StatusCode::LOCKED);
    assert_eq!(real, none, "both lock");
    let (_, real) = staff_login(t, me, "doc02", "wrong-password1").await;
    let (_, none) = staff_login(t, me, "nobody", "wrong-password1").await;
    assert_eq!(real, none, "both stay locked");
    let (a, b) = (median(real_times), median(unknown_times));
    assert!(alike(a, b), "real {a:?} vs unknown {b:?}");
}

/// The path of a route with `{id}` standing for a patient.
fn patient_route(path: &str) -> bool {
    path.contains("/patients/{id}") && !path.starts_with("/portal")
}

async fn patients_of_other_organisations_are_not_found(t: &TestApp) {
    let other = dayi_app::tenancy::by_code(&t.app, "ciqiu").await.unwrap().unwrap().org_id;
    let f = dayi_app::demo::people::person(77_001, 11, dayi_core::timefmt::today_cst());
    let theirs = dayi_app::patient::register(&t.app, &Actor::cli(other), &f, Channel::Counter).await.unwrap();
    let routes: Vec<_> = specs().into_iter().filter(|r| r.method == Method::GET && patient_route(r.path)).collect();
    assert!(routes.len() >= 10, "{}", routes.len());
    let mut checked = 0;
    for r in routes {
        let Some((user, _)) = ROLE_USERS.iter().find(|(_, role)| match r.need {
            Need::Perm(p) => role.perms().contains(&p),
            Need::AnyPerm(ps) => ps.iter().any(|p| role.perms().contains(p)),
            _ => false,
        }) else {
            continue;
        };
        let s = t.as_user(user).await;
        let path = r.path.replace("{id}", &theirs.id.to_string()).replace("{item}", "GLU");
        let status = s.get(&path).await.status();
        assert_eq!(status, StatusCode::NOT_FOUND, "{user}: GET {path}");
        checked += 1;
    }
    assert!(checked >= 10);
}

async fn pages_forbid_framing_and_sniffing(t: &TestApp) {
    let doc = t.as_user("doc01").await;
    let anon = t.client();
    let answers = vec![
        ("/", doc.get("/").await),
        ("/api/me", doc.get("/api/me").await),
        ("/login", anon.get(t.at("/login")).send().await.unwrap()),
        ("/portal/login", anon.get(t.at("/portal/login")).send().await.unwrap()),
        ("/static/css/dayi.css", anon.get(t.at("/static/css/dayi.css")).send().await.unwrap()),
        ("/no-such-page", doc.get("/no-such-page").await),
        ("/fhir/metadata", anon.get(t.at("/fhir/metadata")).send().await.unwrap()),
    ];
    for (path, r) in answers {
        let h = r.headers();
        let csp = h.get("content-security-policy").map(|v| v.to_str().unwrap()).unwrap_or("");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(h.get("x-content-type-options").map(|v| v.to_str().unwrap()), Some("nosniff"), "{path}");
        assert_eq!(h.get("x-frame-options").map(|v| v.to_str().unwrap()), Some("DENY"), "{path}");
        assert!(h.contains_key("referrer-policy"), "{path}");
        assert!(!h.contains_key("strict-transport-security"), "{path}: plain HTTP has no HSTS");
    }
    // Pages carry no inline script the policy would block.
    for path in ["/", "/queue/settings", "/api/docs"] {
        let admin = t.as_user("admin").await;
        let html = admin.get(path).await.text().await.unwrap();
        assert!(!html.contains("<script>") && !html.contains("onclick="), "{path} has inline script");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_deployments_send_hsts() {
    let t = TestApp::sqlite_with(|r| r.web.secure_cookies = true).await;
    let r = t.client().get(t.at("/login")).send().await.unwrap();
    let hsts = r.headers().get("strict-transport-security").map(|v| v.to_str().unwrap().to_string());
    assert!(hsts.is_some_and(|v| v.contains("max-age=")));
    t.stop().await;
}
