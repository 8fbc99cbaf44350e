//! What the stack file says about `provider: sim` clouds. A sim cluster has no fields
//! of its own: it takes the flavor of the cloud its cloud emulates (`emulates: aws`),
//! or of its region's spelling.

use fedstack_core::stack::describe::{CloudDescription, Setting, SettingKind};

/// The description of sim clouds, registered with the loader.
pub static SIM: Sim = Sim;

/// `provider: sim`: simulated clouds in a world file.
pub struct Sim;

const SETTINGS: &[Setting] = &[
    Setting::optional("emulates", SettingKind::Emulates),
    Setting::optional("account", SettingKind::Str),
    Setting::optional("latency", SettingKind::Latency),
    Setting::optional("max_parallel", SettingKind::MaxParallel),
];

impl CloudDescription for Sim {
    fn provider(&self) -> &'static str {
        "sim"
    }

    fn runs_federation(&self) -> bool {
        true
    }

    fn flavor(&self) -> Option<&'static str> {
        None
    }

    fn settings(&self) -> &'static [Setting] {
        SETTINGS
    }
}
