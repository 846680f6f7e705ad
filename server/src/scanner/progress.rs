//! Scan progress as one percent across the phases. Each phase has a weight; inside a phase
//! nmap's own tasks (`<taskbegin>`/`<taskprogress>`/`<taskend>`) move it along. The percent
//! never goes backwards.

use crate::domain::config::Phase;

/// A planned phase and its share of the whole scan.
#[derive(Debug, Clone, Copy)]
struct Slot {
    phase: Phase,
    weight: f64,
    /// nmap tasks this phase is expected to run (port scan, service scan, scripts).
    tasks: u32,
}

#[derive(Debug)]
pub struct Progress {
    slots: Vec<Slot>,
    current: usize,
    tasks_done: u32,
    task_percent: f64,
    percent: f64,
}

fn weight(phase: Phase) -> f64 {
    match phase {
        Phase::Ping => 10.0,
        Phase::Tcp => 40.0,
        Phase::Udp => 25.0,
        Phase::Service => 35.0,
        _ => 5.0,
    }
}

impl Progress {
    /// `phases` in run order with the nmap tasks each will run.
    pub fn new(phases: &[(Phase, u32)]) -> Self {
        let total: f64 = phases.iter().map(|(p, _)| weight(*p)).sum::<f64>().max(1.0);
        Self {
            slots: phases
                .iter()
                .map(|(phase, tasks)| Slot {
                    phase: *phase,
                    weight: weight(*phase) * 100.0 / total,
                    tasks: (*tasks).max(1),
                })
                .collect(),
            current: 0,
            tasks_done: 0,
            task_percent: 0.0,
            percent: 0.0,
        }
    }

    /// A phase starts (phases not run are skipped over).
    pub fn start_phase(&mut self, phase: Phase) {
        if let Some(i) = self.slots.iter().position(|s| s.phase == phase) {
            self.current = i;
            self.tasks_done = 0;
            self.task_percent = 0.0;
            self.update();
        }
    }

    /// nmap reported progress in its current task.
    pub fn task_progress(&mut self, percent: f64) {
        if percent.is_finite() {
            self.task_percent = percent.clamp(0.0, 100.0);
            self.update();
        }
    }

    /// nmap finished one of the phase's tasks.
    pub fn task_end(&mut self) {
        self.tasks_done += 1;
        self.task_percent = 0.0;
        self.update();
    }

    /// The phase is over (whatever nmap reported).
    pub fn end_phase(&mut self) {
        if let Some(slot) = self.slots.get(self.current) {
            self.tasks_done = slot.tasks;
            self.task_percent = 0.0;
            self.update();
        }
    }

    pub fn percent(&self) -> f64 {
        self.percent
    }

    fn update(&mut self) {
        let before: f64 = self.slots[..self.current.min(self.slots.len())]
            .iter()
            .map(|s| s.weight)
            .sum();
        let inside = self.slots.get(self.current).map_or(0.0, |slot| {
            let done =
                (f64::from(self.tasks_done) + self.task_percent / 100.0) / f64::from(slot.tasks);
            slot.weight * done.min(1.0)
        });
        // 100 is for a finished scan only.
        let now = (before + inside).min(99.0);
        if now > self.percent {
            self.percent = (now * 10.0).round() / 10.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_moves_forward_through_phases_and_tasks() {
        let mut p = Progress::new(&[(Phase::Ping, 1), (Phase::Tcp, 1), (Phase::Service, 3)]);
        p.start_phase(Phase::Ping);
        assert_eq!(p.percent(), 0.0);
        p.task_progress(50.0);
        let a = p.percent();
        assert!(a > 0.0);
        p.end_phase();
        p.start_phase(Phase::Tcp);
        p.task_progress(10.0);
        let b = p.percent();
        assert!(b > a);
        // A new task starting at 0% does not pull the percent back.
        p.task_end();
        p.task_progress(0.0);
        assert!(p.percent() >= b);
        p.end_phase();
        p.start_phase(Phase::Service);
        for _ in 0..10 {
            p.task_end();
        }
        assert!(p.percent() <= 99.0);
    }
}
