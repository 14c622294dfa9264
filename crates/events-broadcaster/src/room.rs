//! Rooms a client can join, and which rooms an event goes to.

use std::fmt;
use std::str::FromStr;

use agentq_domain::{JobEventKind, JobId, ProjectId};
use agentq_queue::QueueEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Room {
    /// Every event the user may see.
    Notifications,
    Project(ProjectId),
    /// One job's events, with its live output.
    Job(JobId),
}

impl Room {
    /// The rooms `event` is delivered to. Output lines go to the job's own room only: they are
    /// many, and only a client watching that job wants them.
    pub fn for_event(event: &QueueEvent) -> impl Iterator<Item = Room> {
        let broad = event.kind() != JobEventKind::Log;
        let notifications = broad.then_some(Room::Notifications);
        let project = event.project.filter(|_| broad).map(Room::Project);
        [notifications, project, Some(Room::Job(event.job))]
            .into_iter()
            .flatten()
    }
}

impl fmt::Display for Room {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Notifications => f.write_str("notifications"),
            Self::Project(id) => write!(f, "project:{id}"),
            Self::Job(id) => write!(f, "job:{id}"),
        }
    }
}

impl FromStr for Room {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        if s == "notifications" {
            return Ok(Self::Notifications);
        }
        match s.split_once(':') {
            Some(("project", id)) => id.parse().map(Self::Project).map_err(|_| ()),
            Some(("job", id)) => id.parse().map(Self::Job).map_err(|_| ()),
            _ => Err(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_round_trip_and_refuse_anything_else() {
        let job = JobId::new();
        for room in [
            Room::Notifications,
            Room::Project(ProjectId::try_from(7).expect("id")),
            Room::Job(job),
        ] {
            assert_eq!(room.to_string().parse::<Room>(), Ok(room));
        }
        for bad in [
            "",
            "project:",
            "project:0",
            "project:-1",
            "project:x",
            "job:1",
            "lobby",
            "Notifications",
        ] {
            assert!(bad.parse::<Room>().is_err(), "{bad:?}");
        }
    }
}
