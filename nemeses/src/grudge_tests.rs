//! Tests for grudges and shapes. They assert reachability — who can talk with
//! whom — rather than the grudge's internal map, because reachability is what
//! the system under test experiences.

use super::*;
use std::collections::BTreeMap;

/// `n1 ..= n<count>`.
fn names(count: usize) -> Vec<NodeName> {
    (1..=count).map(|i| format!("n{i}")).collect()
}

fn list(s: &str) -> Vec<NodeName> {
    s.split_whitespace().map(str::to_string).collect()
}

/// One line per node: the nodes it can talk with both ways, itself included,
/// in the order of `nodes`. Reads like the matrix it encodes.
fn view(g: &Grudge, nodes: &[NodeName]) -> Vec<String> {
    nodes
        .iter()
        .map(|a| {
            let peers: Vec<&str> = nodes
                .iter()
                .filter(|b| g.can_talk(a, b))
                .map(String::as_str)
                .collect();
            format!("{a}: {}", peers.join(" "))
        })
        .collect()
}

fn talk_set(g: &Grudge, nodes: &[NodeName], a: &str) -> BTreeSet<NodeName> {
    nodes.iter().filter(|b| g.can_talk(a, b)).cloned().collect()
}

/// All our shapes cut links both ways: reach(a→b) == reach(b→a) for every pair,
/// and every node reaches itself.
fn assert_symmetric(g: &Grudge, nodes: &[NodeName]) {
    for a in nodes {
        assert!(g.can_reach(a, a), "{a} must reach itself");
        for b in nodes {
            assert_eq!(
                g.can_reach(a, b),
                g.can_reach(b, a),
                "{a}→{b} vs {b}→{a} in\n{g}"
            );
        }
    }
}

fn majority(n: usize) -> usize {
    n / 2 + 1
}

// ---- the grudge type itself ----

#[test]
fn direction_a_node_drops_incoming_packets_from_its_set() {
    let mut g = Grudge::new();
    g.add_drop("n1", "n2");
    assert!(!g.can_reach("n2", "n1"), "n1 drops what n2 sends");
    assert!(
        g.can_reach("n1", "n2"),
        "n2 drops nothing, so n1's packets arrive"
    );
    assert!(!g.can_talk("n1", "n2") && !g.can_talk("n2", "n1"));
    assert!(
        g.can_talk("n1", "n3"),
        "nodes the grudge never mentions keep their links"
    );
    assert_eq!(g.dropped_by("n1").collect::<Vec<_>>(), ["n2"]);
    assert_eq!(g.dropped_by("n2").count(), 0);
    assert_eq!(g.to_string(), "n1 drops n2");
}

#[test]
fn no_self_drops_and_every_node_is_listed() {
    let mut g = Grudge::new();
    g.add_drop("n1", "n1");
    assert!(g.is_empty());
    assert_eq!(g.nodes(), BTreeSet::from(["n1"]));
    assert_eq!(g.to_string(), "no partition");
    let one_component = Grudge::complete(&[names(3)]);
    assert!(one_component.is_empty(), "one component cuts nothing");
    assert_eq!(one_component.nodes().len(), 3);
    assert!(Grudge::complete(&[]).is_empty());
    let raw: BTreeMap<_, _> = [
        (
            "n1".to_string(),
            BTreeSet::from(["n1".to_string(), "n2".to_string()]),
        ),
        ("n3".to_string(), BTreeSet::new()),
    ]
    .into();
    let mut expected = Grudge::new();
    expected.add_drop("n1", "n2");
    expected.add_node("n3");
    assert_eq!(Grudge::from_map(raw), expected);
    assert_eq!(expected.nodes(), BTreeSet::from(["n1", "n2", "n3"]));
}

#[test]
fn complete_with_disjoint_and_overlapping_components() {
    let g = Grudge::complete(&[list("n1 n2"), list("n3")]);
    assert_eq!(view(&g, &names(3)), ["n1: n1 n2", "n2: n1 n2", "n3: n3"]);
    // n2 is in both components: it hears everyone, the ends stay apart.
    let g = Grudge::complete(&[list("n1 n2"), list("n2 n3")]);
    assert_eq!(
        view(&g, &names(3)),
        ["n1: n1 n2", "n2: n1 n2 n3", "n3: n2 n3"]
    );
    assert_eq!(
        g.nodes(),
        BTreeSet::from(["n1", "n2", "n3"]),
        "n2 drops nothing, yet is listed"
    );
    assert_eq!(g.dropped_by("n2").count(), 0);
}

#[test]
fn serde_is_a_plain_object_and_normalises_on_read() {
    let g = halves(&names(3)).unwrap();
    let json = serde_json::to_string(&g).unwrap();
    assert_eq!(json, r#"{"n1":["n2","n3"],"n2":["n1"],"n3":["n1"]}"#);
    assert_eq!(serde_json::from_str::<Grudge>(&json).unwrap(), g);
    let bridge_json = serde_json::to_string(&bridge(&names(3)).unwrap()).unwrap();
    assert_eq!(
        bridge_json, r#"{"n1":["n3"],"n2":[],"n3":["n1"]}"#,
        "the bridge is listed"
    );
    let messy: Grudge = serde_json::from_str(r#"{"n1":["n1","n2"],"n9":[]}"#).unwrap();
    assert_eq!(
        serde_json::to_string(&messy).unwrap(),
        r#"{"n1":["n2"],"n2":[],"n9":[]}"#
    );
}

#[test]
fn display_clean_partitions_with_bars_in_natural_order() {
    assert_eq!(halves(&names(5)).unwrap().to_string(), "n1,n2 | n3,n4,n5");
    assert_eq!(
        isolate(&names(5), "n3").unwrap().to_string(),
        "n1,n2,n4,n5 | n3"
    );
    assert_eq!(
        halves(&names(12)).unwrap().to_string(),
        "n1,n2,n3,n4,n5,n6 | n7,n8,n9,n10,n11,n12",
        "n10 sorts after n9, not after n1"
    );
    let three_way = Grudge::complete(&[list("n5"), list("n3 n1"), list("n2 n4")]);
    assert_eq!(three_way.to_string(), "n1,n3 | n2,n4 | n5");
}

#[test]
fn display_other_grudges_as_drop_lines() {
    assert_eq!(
        bridge(&names(5)).unwrap().to_string(),
        "n1 drops n4,n5\nn2 drops n4,n5\nn4 drops n1,n2\nn5 drops n1,n2"
    );
    assert_eq!(bridge(&names(5)).unwrap().components(), None);
    assert_eq!(Grudge::new().components(), None);
}

// ---- halves ----

#[test]
fn halves_on_5_cuts_first_two_from_last_three() {
    let nodes = names(5);
    let g = halves(&nodes).unwrap();
    assert!(g.can_talk("n1", "n2"));
    assert!(
        !g.can_reach("n1", "n3") && !g.can_reach("n3", "n1"),
        "blocked both ways"
    );
    assert!(g.can_talk("n3", "n5"));
    assert_eq!(
        view(&g, &nodes),
        [
            "n1: n1 n2",
            "n2: n1 n2",
            "n3: n3 n4 n5",
            "n4: n3 n4 n5",
            "n5: n3 n4 n5"
        ]
    );
}

#[test]
fn halves_on_3_and_7() {
    let g = halves(&names(3)).unwrap();
    assert_eq!(view(&g, &names(3)), ["n1: n1", "n2: n2 n3", "n3: n2 n3"]);
    let g = halves(&names(7)).unwrap();
    assert_eq!(g.to_string(), "n1,n2,n3 | n4,n5,n6,n7");
    assert_symmetric(&g, &names(7));
    assert!(!g.can_talk("n3", "n4"));
    assert!(g.can_talk("n4", "n7"));
}

/// Exactly two groups, sizes ⌊n/2⌋ and ⌈n/2⌉, and only the bigger has a
/// majority when n is odd.
fn assert_two_halves(g: &Grudge, nodes: &[NodeName]) {
    assert_symmetric(g, nodes);
    let groups = g.components().expect("a clean partition");
    let mut sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
    sizes.sort();
    let n = nodes.len();
    assert_eq!(sizes, [n / 2, n - n / 2], "{g}");
    assert!(sizes[0] < majority(n) && (n.is_multiple_of(2) || sizes[1] >= majority(n)));
    for a in nodes {
        assert_eq!(
            talk_set(g, nodes, a).len(),
            groups.iter().find(|gr| gr.contains(a)).unwrap().len()
        );
    }
}

#[test]
fn random_halves_are_halves_and_depend_only_on_the_seed() {
    for n in [3, 5, 7] {
        let nodes = names(n);
        let mut distinct = BTreeSet::new();
        for seed in 0..50 {
            let g = random_halves(&nodes, &mut Rng::new(seed)).unwrap();
            assert_two_halves(&g, &nodes);
            assert_eq!(g, random_halves(&nodes, &mut Rng::new(seed)).unwrap());
            distinct.insert(g.to_string());
        }
        assert!(
            distinct.len() > 1,
            "{n} nodes: 50 seeds gave a single split"
        );
    }
    assert_two_halves(&halves(&names(6)).unwrap(), &names(6));
}

// ---- one / isolate ----

/// `loner` talks to no one; all the others talk to each other.
fn assert_isolated(g: &Grudge, nodes: &[NodeName], loner: &str) {
    assert_symmetric(g, nodes);
    for a in nodes {
        let expected: BTreeSet<NodeName> = if a == loner {
            [a.clone()].into()
        } else {
            nodes.iter().filter(|b| *b != loner).cloned().collect()
        };
        assert_eq!(talk_set(g, nodes, a), expected, "{a} in\n{g}");
    }
}

#[test]
fn isolate_cuts_exactly_that_node() {
    for n in [3, 5, 7] {
        let nodes = names(n);
        for loner in &nodes {
            assert_isolated(&isolate(&nodes, loner).unwrap(), &nodes, loner);
        }
    }
    let err = isolate(&names(3), "n9").unwrap_err();
    assert_eq!(
        err,
        "cannot isolate n9: it is not one of the nodes (n1, n2, n3)"
    );
}

#[test]
fn one_isolates_a_seeded_node_and_over_many_seeds_every_node() {
    for n in [3, 5, 7] {
        let nodes = names(n);
        let mut isolated = BTreeSet::new();
        for seed in 0..200 {
            let g = one(&nodes, &mut Rng::new(seed)).unwrap();
            assert_eq!(
                g,
                one(&nodes, &mut Rng::new(seed)).unwrap(),
                "same seed, same grudge"
            );
            let groups = g.components().unwrap();
            let loner = groups.iter().find(|gr| gr.len() == 1).unwrap()[0].clone();
            assert_isolated(&g, &nodes, &loner);
            isolated.insert(loner);
        }
        assert_eq!(isolated, nodes.iter().cloned().collect(), "{n} nodes");
    }
}

// ---- majorities ring ----

/// Each node talks with a majority including itself, cut links are cut both
/// ways, and (for n ≥ 4) every node has lost someone and no two nodes see the
/// same set.
fn assert_majorities_ring(g: &Grudge, nodes: &[NodeName]) {
    assert_symmetric(g, nodes);
    let n = nodes.len();
    let sets: Vec<BTreeSet<NodeName>> = nodes.iter().map(|a| talk_set(g, nodes, a)).collect();
    for (a, set) in nodes.iter().zip(&sets) {
        assert!(set.contains(a));
        assert!(
            set.len() >= majority(n),
            "{a} sees {set:?}, not a majority of {n}"
        );
        if n >= 4 {
            assert!(set.len() < n, "{a} sees everyone");
        }
    }
    let distinct: BTreeSet<_> = sets.iter().collect();
    assert_eq!(distinct.len(), n, "two nodes see the same majority:\n{g}");
}

#[test]
fn majorities_ring_on_5_each_node_sees_its_two_ring_neighbours() {
    let nodes = names(5);
    let g = majorities_ring(&nodes).unwrap();
    assert_eq!(
        view(&g, &nodes),
        [
            "n1: n1 n2 n5",
            "n2: n1 n2 n3",
            "n3: n2 n3 n4",
            "n4: n3 n4 n5",
            "n5: n1 n4 n5"
        ]
    );
    assert_majorities_ring(&g, &nodes);
}

#[test]
fn majorities_ring_on_7_each_node_sees_two_each_side() {
    let nodes = names(7);
    let g = majorities_ring(&nodes).unwrap();
    assert_eq!(
        view(&g, &nodes),
        [
            "n1: n1 n2 n3 n6 n7",
            "n2: n1 n2 n3 n4 n7",
            "n3: n1 n2 n3 n4 n5",
            "n4: n2 n3 n4 n5 n6",
            "n5: n3 n4 n5 n6 n7",
            "n6: n1 n4 n5 n6 n7",
            "n7: n1 n2 n5 n6 n7"
        ]
    );
    assert_majorities_ring(&g, &nodes);
}

#[test]
fn majorities_ring_on_3_degenerates_to_the_bridge() {
    let nodes = names(3);
    let g = majorities_ring(&nodes).unwrap();
    assert_eq!(g, bridge(&nodes).unwrap());
    assert_eq!(view(&g, &nodes), ["n1: n1 n2", "n2: n1 n2 n3", "n3: n2 n3"]);
    assert_majorities_ring(&g, &nodes);
}

#[test]
fn majorities_ring_properties_hold_from_3_to_12_nodes() {
    for n in 3..=12 {
        assert_majorities_ring(&majorities_ring(&names(n)).unwrap(), &names(n));
    }
}

// ---- bridge ----

/// The bridge talks with everyone; the two sides talk within themselves (and
/// with the bridge) but never across; each side plus the bridge is a majority
/// when n is odd.
fn assert_bridge(
    g: &Grudge,
    nodes: &[NodeName],
    left: &[NodeName],
    middle: &str,
    right: &[NodeName],
) {
    assert_symmetric(g, nodes);
    assert_eq!(
        talk_set(g, nodes, middle).len(),
        nodes.len(),
        "the bridge reaches all"
    );
    for (side, other) in [(left, right), (right, left)] {
        for a in side {
            let mut expected: BTreeSet<NodeName> = side.iter().cloned().collect();
            expected.insert(middle.to_string());
            assert_eq!(talk_set(g, nodes, a), expected, "{a} in\n{g}");
            assert!(other
                .iter()
                .all(|b| !g.can_reach(a, b) && !g.can_reach(b, a)));
        }
        if !nodes.len().is_multiple_of(2) {
            assert!(side.len() + 1 >= majority(nodes.len()));
        }
    }
}

#[test]
fn bridge_on_3_5_7_keeps_the_middle_node_connected_to_both_sides() {
    let n = names(3);
    assert_bridge(&bridge(&n).unwrap(), &n, &list("n1"), "n2", &list("n3"));
    let n = names(5);
    assert_bridge(
        &bridge(&n).unwrap(),
        &n,
        &list("n1 n2"),
        "n3",
        &list("n4 n5"),
    );
    let n = names(7);
    assert_bridge(
        &bridge(&n).unwrap(),
        &n,
        &list("n1 n2 n3"),
        "n4",
        &list("n5 n6 n7"),
    );
    let n = names(4);
    assert_bridge(&bridge(&n).unwrap(), &n, &list("n1 n2"), "n3", &list("n4"));
}

// ---- one-way ----

/// ⌊n/2⌋ nodes go unheard: every other node drops each of them, they drop
/// nobody, and no pair can hold a conversation across the cut, while every
/// packet the other way arrives.
fn assert_one_way(g: &Grudge, nodes: &[NodeName]) {
    let unheard: Vec<&NodeName> = nodes
        .iter()
        .filter(|n| g.dropped_by(n).next().is_none())
        .collect();
    assert_eq!(unheard.len(), nodes.len() / 2, "{g}");
    for a in nodes {
        for b in nodes.iter().filter(|b| *b != a) {
            let across = unheard.contains(&a) && !unheard.contains(&b);
            assert_eq!(g.can_reach(a, b), !across, "{a} -> {b} in {g}");
            if across {
                assert!(g.can_reach(b, a), "{b} -> {a} must pass in {g}");
                assert!(!g.can_talk(a, b));
            }
        }
    }
    assert_eq!(g.components(), None, "one-way is no clean partition: {g}");
}

#[test]
fn one_way_cuts_one_direction_only() {
    let g = one_way(&names(5)).unwrap();
    assert_one_way(&g, &names(5));
    assert!(!g.can_reach("n1", "n3") && g.can_reach("n3", "n1"));
    assert_eq!(
        g.to_string(),
        "n3 drops n1,n2\nn4 drops n1,n2\nn5 drops n1,n2"
    );
    // Every node is listed, the unheard ones too.
    assert_eq!(g.nodes().len(), 5);
    assert_eq!(one_way(&names(2)).unwrap().to_string(), "n2 drops n1");
    assert!(one_way(&names(1)).is_err());
}

// ---- the shape enum ----

#[test]
fn shape_names_round_trip_and_unknown_names_are_listed() {
    let shown: Vec<String> = PartitionShape::ALL.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        shown,
        [
            "halves",
            "random-halves",
            "one",
            "majorities-ring",
            "bridge",
            "one-way"
        ]
    );
    for shape in PartitionShape::ALL {
        assert_eq!(shape.name().parse::<PartitionShape>(), Ok(shape));
        let json = serde_json::to_string(&shape).unwrap();
        assert_eq!(json, format!("\"{}\"", shape.name()));
    }
    assert_eq!(
        "majority".parse::<PartitionShape>(),
        Err("unknown partition shape 'majority' (known: halves, random-halves, one, majorities-ring, bridge, one-way)".to_string())
    );
}

#[test]
fn every_shape_via_the_enum_keeps_its_properties_and_replays_from_the_seed() {
    for n in [3, 5, 7] {
        let nodes = names(n);
        for seed in 0..30 {
            for shape in PartitionShape::ALL {
                let g = shape.grudge(&nodes, &mut Rng::new(seed)).unwrap();
                assert_eq!(
                    g,
                    shape.grudge(&nodes, &mut Rng::new(seed)).unwrap(),
                    "{shape}"
                );
                if shape == PartitionShape::OneWay {
                    assert_one_way(&g, &nodes);
                    continue;
                }
                assert_symmetric(&g, &nodes);
                match shape {
                    PartitionShape::Halves => assert_eq!(g, halves(&nodes).unwrap()),
                    PartitionShape::RandomHalves => assert_two_halves(&g, &nodes),
                    PartitionShape::One => assert_eq!(g.components().unwrap().len(), 2),
                    PartitionShape::MajoritiesRing => assert_majorities_ring(&g, &nodes),
                    PartitionShape::Bridge => {
                        // Exactly one node talks with everyone.
                        let hubs = nodes.iter().filter(|a| talk_set(&g, &nodes, a).len() == n);
                        assert_eq!(hubs.count(), 1, "{g}");
                    }
                    PartitionShape::OneWay => unreachable!("checked above"),
                }
            }
        }
    }
}

#[test]
fn enum_ring_and_bridge_vary_with_the_seed() {
    let nodes = names(5);
    for shape in [
        PartitionShape::MajoritiesRing,
        PartitionShape::Bridge,
        PartitionShape::OneWay,
    ] {
        let distinct: BTreeSet<String> = (0..30)
            .map(|seed| {
                shape
                    .grudge(&nodes, &mut Rng::new(seed))
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert!(distinct.len() > 1, "{shape} ignores the seed");
    }
}

// ---- bad input: a clear error, never a panic ----

#[test]
fn bad_node_lists_are_refused_with_a_reason() {
    let cases: [(Vec<NodeName>, &str); 4] = [
        (vec![], "no nodes were given"),
        (list("n1 n2 n1"), "node n1 is listed twice"),
        (
            vec!["n1".into(), " ".into(), "n3".into()],
            "node #2 has an empty name",
        ),
        (list("n1"), "got 1 (n1)"),
    ];
    for (nodes, expected) in &cases {
        for shape in PartitionShape::ALL {
            let err = shape.grudge(nodes, &mut Rng::new(0)).unwrap_err();
            assert!(err.contains(expected), "{shape} on {nodes:?}: {err}");
        }
        let err = isolate(nodes, "n1").unwrap_err();
        assert!(err.contains(expected), "isolate on {nodes:?}: {err}");
    }
    for shape in [PartitionShape::MajoritiesRing, PartitionShape::Bridge] {
        let err = shape.grudge(&names(2), &mut Rng::new(0)).unwrap_err();
        assert_eq!(
            err,
            format!("{shape} needs at least 3 nodes, got 2 (n1, n2)")
        );
    }
    // Two nodes are enough to cut one from the other.
    assert_eq!(halves(&names(2)).unwrap().to_string(), "n1 | n2");
    assert_eq!(
        one(&names(2), &mut Rng::new(0)).unwrap().to_string(),
        "n1 | n2"
    );
}
