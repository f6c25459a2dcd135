//! One story, two databases: `on_both!` runs each named test body on SQLite
//! and on PostgreSQL with whatever harness the suite uses (a bare database
//! for the storage suites, a running server for the HTTP suites).

use std::future::Future;

/// A suite's fixture, opened fresh for each run of a story.
pub trait Harness: Sized {
    fn sqlite() -> impl Future<Output = Self>;
    /// `None` when PostgreSQL is not installed (and not required).
    fn postgres() -> impl Future<Output = Option<Self>>;
    /// Stops what the fixture started.
    fn finish(self) -> impl Future<Output = ()> {
        async {}
    }
}

/// `on_both!(Harness; story_a, story_b)`: a module per story with a `sqlite`
/// and a `postgres` test, each calling `story(&harness)`.
#[macro_export]
macro_rules! on_both {
    ($harness:ty; $($story:ident),* $(,)?) => { $(
        mod $story {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let t = <$harness as $crate::Harness>::sqlite().await;
                super::$story(&t).await;
                $crate::Harness::finish(t).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match <$harness as $crate::Harness>::postgres().await {
                    Some(t) => {
                        super::$story(&t).await;
                        $crate::Harness::finish(t).await;
                    }
                    None => eprintln!("PostgreSQL binaries not found: skipped"),
                }
            }
        }
    )* };
}
