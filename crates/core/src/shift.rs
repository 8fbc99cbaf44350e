//! Blue/green traffic shifting (`fedstack shift`): the weights a weighted record goes
//! through, step by step, from the weights it has to all traffic on one target.
//!
//! Weights are shown and written as percentages of the record's traffic: with `--step
//! 10`, `100/0` becomes `90/10`, `80/20`, ... `0/100` (ten steps). The target's share
//! grows by `step` points per step; the other targets keep their proportions among
//! themselves. Route 53 splits traffic in proportion to the weights, so percentages are
//! weights as good as any (0-255). When every weight is 0, Route 53 splits equally, and
//! so does the first step here.

/// Why a shift can't be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShiftError {
    #[error("--step must be 1-100 (percentage points per step), got {0}")]
    BadStep(u32),
    #[error("the record has no target number {0}")]
    NoSuchTarget(usize),
    #[error("all the traffic is already on the target")]
    AlreadyThere,
    #[error("a weight of {0} is outside 0-255")]
    BadWeight(i64),
}

/// The weights of every step, after the starting weights (which are not included).
/// `start` are the current weights in target order, `to` the index of the target that
/// gets all the traffic, `step` the percentage points it gains per step (1-100).
pub fn weight_steps(start: &[i64], to: usize, step: u32) -> Result<Vec<Vec<i64>>, ShiftError> {
    if !(1..=100).contains(&step) {
        return Err(ShiftError::BadStep(step));
    }
    if to >= start.len() {
        return Err(ShiftError::NoSuchTarget(to));
    }
    if let Some(w) = start.iter().find(|w| !(0..=255).contains(*w)) {
        return Err(ShiftError::BadWeight(*w));
    }
    // Shares in percent of traffic; all zero means equal shares.
    let total: i64 = start.iter().sum();
    let shares: Vec<f64> = if total == 0 {
        vec![100.0 / start.len() as f64; start.len()]
    } else {
        start
            .iter()
            .map(|w| *w as f64 * 100.0 / total as f64)
            .collect()
    };
    let others_total: f64 = shares
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != to)
        .map(|(_, s)| *s)
        .sum();
    if others_total <= f64::EPSILON {
        return Err(ShiftError::AlreadyThere);
    }
    let mut steps = Vec::new();
    let mut k = 1u32;
    loop {
        let target = (shares[to] + f64::from(step * k)).min(100.0);
        // Rounded to whole percent; the target's share is exact when it reaches 100.
        let target_pct = target.round() as i64;
        let rest = 100 - target_pct;
        let mut row = vec![0i64; start.len()];
        row[to] = target_pct;
        // The others share `rest` in their starting proportions (largest remainder).
        let exact: Vec<(usize, f64)> = shares
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != to)
            .map(|(i, s)| (i, s / others_total * rest as f64))
            .collect();
        let mut given = 0i64;
        for (i, e) in &exact {
            row[*i] = e.floor() as i64;
            given += row[*i];
        }
        let mut by_remainder: Vec<(usize, f64)> =
            exact.iter().map(|(i, e)| (*i, e - e.floor())).collect();
        by_remainder.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        for (i, _) in by_remainder.iter().take((rest - given).max(0) as usize) {
            row[*i] += 1;
        }
        let last = target >= 100.0;
        if steps.last() != Some(&row) {
            steps.push(row);
        }
        if last {
            break;
        }
        k += 1;
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blue_to_green_in_ten_steps() {
        let steps = weight_steps(&[100, 0], 1, 10).expect("plans");
        assert_eq!(steps.len(), 10);
        assert_eq!(steps[0], vec![90, 10]);
        assert_eq!(steps[4], vec![50, 50]);
        assert_eq!(steps[9], vec![0, 100]);
    }

    #[test]
    fn uneven_steps_end_exactly_at_all_traffic() {
        let steps = weight_steps(&[100, 0], 1, 30).expect("plans");
        assert_eq!(
            steps,
            vec![vec![70, 30], vec![40, 60], vec![10, 90], vec![0, 100]]
        );
    }

    #[test]
    fn others_keep_their_proportions_and_rows_sum_to_100() {
        let steps = weight_steps(&[50, 30, 20], 2, 25).expect("plans");
        assert_eq!(steps[0], vec![34, 21, 45]);
        for row in &steps {
            assert_eq!(row.iter().sum::<i64>(), 100, "{row:?}");
        }
        assert_eq!(steps.last(), Some(&vec![0, 0, 100]));
    }

    #[test]
    fn weights_that_are_not_percentages_are_shares() {
        // 200/55: green has 21.6% of the traffic.
        let steps = weight_steps(&[200, 55], 1, 50).expect("plans");
        assert_eq!(steps, vec![vec![28, 72], vec![0, 100]]);
    }

    #[test]
    fn all_zero_weights_are_equal_shares() {
        let steps = weight_steps(&[0, 0], 0, 50).expect("plans");
        assert_eq!(steps, vec![vec![100, 0]]);
    }

    #[test]
    fn refuses_what_makes_no_sense() {
        assert_eq!(
            weight_steps(&[0, 100], 1, 10),
            Err(ShiftError::AlreadyThere)
        );
        assert_eq!(weight_steps(&[100, 0], 1, 0), Err(ShiftError::BadStep(0)));
        assert_eq!(
            weight_steps(&[100, 0], 1, 101),
            Err(ShiftError::BadStep(101))
        );
        assert_eq!(
            weight_steps(&[100, 0], 2, 10),
            Err(ShiftError::NoSuchTarget(2))
        );
        assert_eq!(
            weight_steps(&[300, 0], 1, 10),
            Err(ShiftError::BadWeight(300))
        );
    }
}
