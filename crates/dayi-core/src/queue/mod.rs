//! Queue calling (叫号), pure: who is called next in a waiting room
//! (`order`), what each doctor's action does to a patient's place in the
//! queue (`state`), and which of a doctor's queues to call from when one
//! doctor serves several (交叉叫号). The caller keeps the rows; these
//! functions decide. Conventions: domain-rules-cn.md §7.2.

mod order;
mod state;

pub use order::*;
pub use state::*;
