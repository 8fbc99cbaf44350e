//! Rollouts: moving something from where it is to where it should be in checked
//! steps, with a rollback to the start when a check fails. `fedstack shift` (traffic of
//! a weighted record, [`weights`]) is one; blue/green and canaries of workloads reuse
//! the same loop. The CLI parses and renders; the loop lives here.

pub mod weights;

use std::future::Future;
use std::time::Duration;

/// What a rollout moves: it can say whether the next step is safe, and take a step.
pub trait Stepper {
    /// One position (e.g. the weights of a record's targets).
    type Step;

    /// Whether the target may take (more of) the change: `Ok((healthy, detail))`.
    /// An `Err` stops the rollout like an unhealthy answer.
    fn check(&mut self) -> impl Future<Output = Result<(bool, String), String>>;

    /// Moves to `step`, durably.
    fn apply(&mut self, step: &Self::Step) -> impl Future<Output = Result<(), String>>;
}

/// What happened, for the renderer.
#[derive(Debug)]
pub enum RolloutEvent<'a, S> {
    /// Step `index` (1-based) of `of` was taken; `detail` is the check that allowed it.
    Stepped {
        index: usize,
        of: usize,
        step: &'a S,
        detail: &'a str,
    },
    /// Back at the start after a failed check or step.
    RolledBack { to: &'a S },
}

/// How a rollout ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every step taken and the target healthy after the last.
    Complete,
    /// Stopped before anything moved: nothing changed.
    StoppedBeforeMoving { why: String },
    /// Stopped after moving; rolled back to the start (or the rollback failed too).
    Stopped {
        why: String,
        rollback: Result<(), String>,
    },
}

/// Runs `steps` from `start`: before each step the target must be healthy, and again
/// after the last; `interval` apart. On a failed check or step, goes back to `start`.
pub async fn run<S: Stepper>(
    stepper: &mut S,
    start: &S::Step,
    steps: &[S::Step],
    interval: Duration,
    mut on_event: impl FnMut(RolloutEvent<'_, S::Step>),
) -> Outcome {
    let mut failure: Option<String> = None;
    // Whether a step reached its target (a failed step may have, too).
    let mut moved = false;
    for (i, step) in steps.iter().enumerate() {
        let (ok, detail) = match stepper.check().await {
            Ok(c) => c,
            Err(e) => (false, e),
        };
        if !ok {
            failure = Some(format!("before step {}: {detail}", i + 1));
            break;
        }
        moved = true;
        if let Err(e) = stepper.apply(step).await {
            failure = Some(format!("step {}: {e}", i + 1));
            break;
        }
        on_event(RolloutEvent::Stepped {
            index: i + 1,
            of: steps.len(),
            step,
            detail: &detail,
        });
        if i + 1 < steps.len() && !interval.is_zero() {
            tokio::time::sleep(interval).await;
        }
    }
    if failure.is_none() {
        match stepper.check().await {
            Ok((true, _)) => return Outcome::Complete,
            Ok((false, detail)) | Err(detail) => {
                failure = Some(format!("after the last step: {detail}"));
            }
        }
    }
    let why = failure.unwrap_or_default();
    if !moved {
        return Outcome::StoppedBeforeMoving { why };
    }
    let rollback = stepper.apply(start).await;
    if rollback.is_ok() {
        on_event(RolloutEvent::RolledBack { to: start });
    }
    Outcome::Stopped { why, rollback }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Healthy for the first `healthy` checks; records what it was moved to.
    struct Fake {
        healthy: usize,
        checks: usize,
        fail_step: Option<i64>,
        at: Vec<i64>,
    }

    impl Stepper for Fake {
        type Step = i64;
        async fn check(&mut self) -> Result<(bool, String), String> {
            self.checks += 1;
            Ok((
                self.checks <= self.healthy,
                format!("check {}", self.checks),
            ))
        }
        async fn apply(&mut self, step: &i64) -> Result<(), String> {
            if self.fail_step == Some(*step) {
                return Err(format!("cannot go to {step}"));
            }
            self.at.push(*step);
            Ok(())
        }
    }

    fn fake(healthy: usize) -> Fake {
        Fake {
            healthy,
            checks: 0,
            fail_step: None,
            at: Vec::new(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn every_step_is_checked_before_and_after() {
        let mut f = fake(10);
        let mut seen = Vec::new();
        let out = run(&mut f, &0, &[50, 100], Duration::from_secs(30), |e| {
            if let RolloutEvent::Stepped { index, of, .. } = e {
                seen.push((index, of));
            }
        })
        .await;
        assert_eq!(out, Outcome::Complete);
        assert_eq!(f.at, vec![50, 100]);
        assert_eq!(f.checks, 3);
        assert_eq!(seen, vec![(1, 2), (2, 2)]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unhealthy_target_before_any_step_changes_nothing() {
        let mut f = fake(0);
        let out = run(&mut f, &0, &[50, 100], Duration::ZERO, |_| {}).await;
        assert_eq!(
            out,
            Outcome::StoppedBeforeMoving {
                why: "before step 1: check 1".into()
            }
        );
        assert!(f.at.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_check_after_moving_rolls_back_to_the_start() {
        let mut f = fake(2);
        let mut rolled = None;
        let out = run(&mut f, &0, &[50, 100], Duration::ZERO, |e| {
            if let RolloutEvent::RolledBack { to } = e {
                rolled = Some(*to);
            }
        })
        .await;
        assert_eq!(
            out,
            Outcome::Stopped {
                why: "after the last step: check 3".into(),
                rollback: Ok(())
            }
        );
        assert_eq!(f.at, vec![50, 100, 0]);
        assert_eq!(rolled, Some(0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_step_rolls_back_and_a_failed_rollback_says_so() {
        let mut f = fake(10);
        f.fail_step = Some(100);
        let out = run(&mut f, &0, &[50, 100], Duration::ZERO, |_| {}).await;
        assert_eq!(
            out,
            Outcome::Stopped {
                why: "step 2: cannot go to 100".into(),
                rollback: Ok(())
            }
        );
        let mut f = fake(1);
        f.fail_step = Some(0);
        let out = run(&mut f, &0, &[50], Duration::ZERO, |_| {}).await;
        assert_eq!(
            out,
            Outcome::Stopped {
                why: "after the last step: check 2".into(),
                rollback: Err("cannot go to 0".into())
            }
        );
    }
}
