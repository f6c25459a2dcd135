//! `register`: `POST /api/patients`, a new realistic patient per request
//! (the registration desk at opening time). Success is 201.

use std::collections::{BTreeSet, HashSet};
use std::sync::Mutex;

use futures::future::BoxFuture;

use super::Scenario;
use super::search::query;
use crate::data::PatientGen;
use crate::http::{Ctx, Outcome, expect_json};
use crate::report::Check;

/// Registered patients looked up again after the run.
const SAMPLE: usize = 20;

pub struct Register {
    patients: PatientGen,
    created: Mutex<Vec<Created>>,
}

/// What a 201 answered, with the generator number of the patient sent.
struct Created {
    k: u64,
    id: String,
    card_id: Option<String>,
}

impl Register {
    pub fn new(seed: u64) -> Register {
        Register { patients: PatientGen::new(seed), created: Mutex::new(vec![]) }
    }
}

impl Scenario for Register {
    fn name(&self) -> &'static str {
        "register"
    }

    /// Patient number `seq`: the engine hands each request, whichever worker
    /// sends it, its own `seq`, so ID numbers and phones never repeat in a run.
    fn call<'a>(&'a self, ctx: &'a Ctx, _worker: usize, seq: u64) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let p = self.patients.patient(seq);
            let v = expect_json(ctx.post("/api/patients").json(&p), 201).await?;
            let id = v["id"].as_str().ok_or("response.no_id")?.to_string();
            let card_id = v["card_id"].as_str().map(str::to_string);
            self.created.lock().expect("not poisoned").push(Created { k: seq, id, card_id });
            Ok(())
        })
    }

    fn checks<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Vec<Check>> {
        Box::pin(async move {
            // Copy out what is needed so the lock is not held across requests.
            let (n, ids_unique, cards, cards_unique, sample) = {
                let created = self.created.lock().expect("not poisoned");
                let ids: HashSet<&str> = created.iter().map(|c| c.id.as_str()).collect();
                let cards: Vec<&str> = created.iter().filter_map(|c| c.card_id.as_deref()).collect();
                let distinct_cards: HashSet<&&str> = cards.iter().collect();
                let step = (created.len() / SAMPLE).max(1);
                let sample: Vec<(u64, String)> =
                    created.iter().step_by(step).take(SAMPLE).map(|c| (c.k, c.id.clone())).collect();
                (created.len(), ids.len() == created.len(), cards.len(), distinct_cards.len() == cards.len(), sample)
            };
            let mut checks = vec![
                Check::new("registrations succeeded", n > 0, format!("{n} patients created")),
                Check::new("patient ids unique", ids_unique, format!("{n} ids")),
                Check::new(
                    "card ids given and unique",
                    cards == n && cards_unique,
                    format!("{cards} of {n} have a card id"),
                ),
            ];
            let mut found = 0;
            let mut errors = BTreeSet::new();
            for (k, id) in &sample {
                match query(ctx, &self.patients.patient(*k).phone).await {
                    Ok(items) if items.iter().any(|i| i["id"].as_str() == Some(id)) => found += 1,
                    Ok(_) => {}
                    Err(e) => {
                        errors.insert(e);
                    }
                }
            }
            let mut detail = format!("{found} of {} sampled patients", sample.len());
            if !errors.is_empty() {
                detail += &format!(" (errors: {})", errors.into_iter().collect::<Vec<_>>().join(", "));
            }
            checks.push(Check::new("found again by phone", !sample.is_empty() && found == sample.len(), detail));
            checks
        })
    }
}
