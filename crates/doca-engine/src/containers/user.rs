//! `--user` / the image's `User` as Docker resolves them: `name|uid[:group|gid]`, names looked up
//! in the container's /etc/passwd and /etc/group, the user's supplementary groups included.

use crate::EngineError;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    /// The user's home directory, for HOME.
    pub home: String,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

fn passwd_entries(passwd: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    passwd.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 6 || l.starts_with('#') {
            return None;
        }
        Some(PasswdEntry { name: f[0], uid: f[2].parse().ok()?, gid: f[3].parse().ok()?, home: f[5] })
    })
}

/// (name, gid, members) of each group line.
fn group_entries(group: &str) -> impl Iterator<Item = (&str, u32, Vec<&str>)> {
    group.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 3 || l.starts_with('#') {
            return None;
        }
        Some((f[0], f[2].parse().ok()?, f.get(3).map(|m| m.split(',').filter(|x| !x.is_empty()).collect()).unwrap_or_default()))
    })
}

/// Resolves `spec` ("" means root) against the container's passwd and group files (either may
/// be absent: numeric ids still work, names then fail as in docker).
pub fn resolve(spec: &str, passwd: Option<&str>, group: Option<&str>) -> Result<ExecUser, EngineError> {
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = passwd.unwrap_or("");
    let group = group.unwrap_or("");
    let entry = if u.is_empty() {
        passwd_entries(passwd).find(|e| e.uid == 0)
    } else if let Ok(uid) = u.parse::<u32>() {
        passwd_entries(passwd).find(|e| e.uid == uid)
    } else {
        Some(
            passwd_entries(passwd)
                .find(|e| e.name == u)
                .ok_or_else(|| EngineError::InvalidArgument(format!("unable to find user {u}: no matching entries in passwd file")))?,
        )
    };
    let uid = match (&entry, u.parse::<u32>()) {
        (_, Ok(uid)) => uid,
        (Some(e), _) => e.uid,
        (None, _) => 0,
    };
    let name = entry.as_ref().map(|e| e.name.to_string());
    let mut gid = entry.as_ref().map(|e| e.gid).unwrap_or(0);
    if let Some(g) = g {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group_entries(group)
                .find(|(n, _, _)| *n == g)
                .map(|(_, id, _)| id)
                .ok_or_else(|| EngineError::InvalidArgument(format!("unable to find group {g}: no matching entries in group file")))?,
        };
    }
    // Supplementary groups: the primary group first, as dockerd sets them since 20.10.18
    // (CVE-2022-36109: a group the image's user should not have stayed a supplementary one),
    // then every group listing the user by name, only when no group was given (runc's
    // GetExecUser); each gid once.
    let mut additional_gids = vec![gid];
    if let (Some(n), None) = (&name, g) {
        for (_, id, members) in group_entries(group) {
            if members.contains(&n.as_str()) && !additional_gids.contains(&id) {
                additional_gids.push(id);
            }
        }
    }
    let home = entry.as_ref().map(|e| e.home.to_string()).unwrap_or_else(|| "/".into());
    Ok(ExecUser { uid, gid, additional_gids, home })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str =
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
    const GROUP: &str = "root:x:0:\napp:x:1000:\nwheel:x:10:app,other\naudio:x:29:app\nnogroup:x:65534:\n";

    #[test]
    fn resolves_like_docker() {
        let r = |s: &str| resolve(s, Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!(r(""), ExecUser { uid: 0, gid: 0, additional_gids: vec![0], home: "/root".into() });
        assert_eq!(r("app"), ExecUser { uid: 1000, gid: 1000, additional_gids: vec![1000, 10, 29], home: "/home/app".into() });
        assert_eq!(r("app:wheel"), ExecUser { uid: 1000, gid: 10, additional_gids: vec![10], home: "/home/app".into() });
        assert_eq!(r("1000:29"), ExecUser { uid: 1000, gid: 29, additional_gids: vec![29], home: "/home/app".into() });
        // An unknown numeric uid is fine (gid 0, home /), as in docker.
        assert_eq!(r("4242"), ExecUser { uid: 4242, gid: 0, additional_gids: vec![0], home: "/".into() });
        assert_eq!(r("nobody").additional_gids, [65534]);
        assert!(resolve("ghost", Some(PASSWD), Some(GROUP)).unwrap_err().to_string().contains("unable to find user ghost"));
        assert!(resolve("app:ghosts", Some(PASSWD), Some(GROUP)).unwrap_err().to_string().contains("unable to find group ghosts"));
        assert_eq!(resolve("5:6", None, None).unwrap().gid, 6);
    }
}
