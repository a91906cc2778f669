"""The editor's pure modules, run in the page itself (no JavaScript test runner to install): layout by depth,
labels from field names, error paths to fields, undo history."""

from __future__ import annotations


async def run(page, module: str, body: str):
    """Evaluate `body` (an expression using `m`, the imported module) in the page."""
    return await page.evaluate(f"import('/static/js/{module}').then((m) => {body})")


async def test_depths_follow_the_longest_path_and_survive_cycles(editor):
    diamond = """[
        {id: 'a', wires: {out: ['b', 'c']}}, {id: 'b', wires: {out: ['d']}},
        {id: 'c', wires: {out: ['e']}}, {id: 'e', wires: {out: ['d']}}, {id: 'd'}]"""
    depths = await run(editor, "layout.js", f"Object.fromEntries(m.depths({diamond}))")
    assert depths == {"a": 0, "b": 1, "c": 1, "e": 2, "d": 3}
    cycle = "[{id: 'a', wires: {out: ['b']}}, {id: 'b', wires: {out: ['a']}}, {id: 'c', wires: {out: ['c']}}]"
    depths = await run(editor, "layout.js", f"Object.fromEntries(m.depths({cycle}))")
    assert set(depths) == {"a", "b", "c"} and all(0 <= d < 3 for d in depths.values())


async def test_complete_layout_keeps_placed_nodes_and_puts_new_ones_below(editor):
    nodes = "[{id: 'a', wires: {out: ['b']}}, {id: 'b'}, {id: 'c'}]"
    layout = await run(editor, "layout.js", f"m.completeLayout({nodes}, {{a: {{x: 500, y: 300}}}})")
    assert layout["a"] == {"x": 500, "y": 300}
    assert layout["b"]["x"] > layout["c"]["x"]  # b is one column deeper than c
    assert min(layout["b"]["y"], layout["c"]["y"]) > 300
    ids = await run(editor, "layout.js", "m.newNodeId('debug', [{id: 'debug-1'}, {id: 'debug-2'}, {id: 'debug'}])")
    assert ids == "debug-3"
    assert await run(editor, "layout.js", "m.newNodeId('switch', [{id: 'debug-1'}])") == "switch-1"


async def test_labels_and_error_paths(editor):
    labels = await run(
        editor,
        "dom.js",
        "['uplinkTopicPattern', 'hostName', 'devEUIs', 'fPort', 'trustedCaCertificate', 'qos', 'clientId']"
        ".map(m.humanize)",
    )
    assert labels == [
        "Uplink Topic Pattern",
        "Host Name",
        "Dev EUIs",
        "FPort",
        "Trusted CA Certificate",
        "QoS",
        "Client ID",
    ]
    fields = await run(
        editor,
        "schema-form.js",
        "[m.fieldOfPath('nodes[1].config.interval', 'nodes[1].config'),"
        " m.fieldOfPath('configuration.devEUIs[2]', 'configuration'),"
        " m.fieldOfPath('nodes[1].config', 'nodes[1].config'),"
        " m.fieldOfPath('nodes[1].wires.out', 'nodes[1].config')]",
    )
    assert fields == ["interval", "devEUIs", "", None]


async def test_history_undoes_redoes_and_forgets_the_future_on_a_new_edit(editor):
    steps = await run(
        editor,
        "history.js",
        """(() => {
            const h = new m.History(3);
            h.reset({n: 0});
            for (const n of [1, 2, 3, 4]) h.record({n});
            const seen = [h.undo().n, h.undo().n, h.canUndo, h.redo().n];
            h.record({n: 9});
            return [...seen, h.canRedo, h.undo().n];
        })()""",
    )
    assert steps == [3, 2, False, 3, False, 3]


async def test_a_schema_form_sends_what_was_given_and_leaves_untouched_defaults_out(editor):
    sent = await run(
        editor,
        "schema-form.js",
        """(() => {
            const schema = [
                {name: 'interval', type: 'string', format: 'duration', default: '10s'},
                {name: 'fPort', type: 'integer', min: 1, max: 223, default: 1},
                {name: 'fPorts', type: 'list', items: {type: 'integer'}},
                {name: 'qos', type: 'select', options: [[0, '0'], [1, '1'], [2, '2']], default: 1},
                {name: 'retain', type: 'boolean', default: false},
                {name: 'password', type: 'string', format: 'password', secret: true},
                {name: 'certificate', type: 'string', format: 'pem'},
            ];
            const form = new m.SchemaForm(schema, {retain: false, password: '********'});
            const set = (name, value) => {
                form.control(name).element.querySelector('input, select, textarea').value = value;
            };
            set('fPorts', '1, 2\\n3');
            set('qos', '2');
            const kinds = form.controls.map((c) => c.kind);
            const first = form.read();
            form.setHidden('certificate', true);
            form.control('certificate').pemArea.value = '-----BEGIN CERTIFICATE-----';
            return {kinds, first, hidden: form.read()};
        })()""",
    )
    assert sent["kinds"] == ["duration", "number", "list", "select", "boolean", "password", "pem"]
    # interval and fPort keep their defaults and are left out; retain was given, so it stays; the secret goes back
    # masked (the server keeps the stored one); qos keeps its type.
    assert sent["first"] == {"fPorts": [1, 2, 3], "qos": 2, "retain": False, "password": "********"}
    assert "certificate" not in sent["hidden"]


async def test_node_search_matches_ids_names_types_and_config_values_in_order(editor):
    flows = """[{id: 'f1', nodes: [{id: 'a', type: 'debug'}, {id: 'b', name: 'Hall', type: 'filter',
        config: {tags: ['hall-east']}}]},
        {id: 'f2', nodes: [{id: 'c', type: 'mqtt-in', config: {topic: 'v3/+/up'}}]}]"""
    found = await run(
        editor, "search.js", f"m.searchNodes({flows}, ' HALL ').map((r) => [r.flow.id, r.node.id, r.where])"
    )
    assert found == [["f1", "b", "name"]]
    found = await run(editor, "search.js", f"m.searchNodes({flows}, 'east').map((r) => [r.node.id, r.where, r.text])")
    assert found == [["b", "config.tags", '["hall-east"]']]
    found = await run(editor, "search.js", f"m.searchNodes({flows}, 'v3/').map((r) => r.node.id)")
    assert found == ["c"]
    assert await run(editor, "search.js", f"m.searchNodes({flows}, '   ').length") == 0


async def test_type_help_says_what_a_field_takes(editor):
    kinds = await run(
        editor,
        "type-help.js",
        """[m.fieldKind({type: 'string', format: 'duration', min: 0.001, unit: 's'}),
            m.fieldKind({type: 'list', items: {type: 'string', format: 'dev-eui'}}),
            m.fieldKind({type: 'select', options: [['SSL', 'SSL'], ['TCP', 'TCP']]}),
            m.fieldKind({type: 'integer', max: 10})]""",
    )
    assert kinds == ["duration, ≥ 0.001 s", "list of dev eui", "one of SSL, TCP", "integer, ≤ 10"]


async def test_config_ports_are_remembered_per_config_and_fall_back_to_the_wires(editor):
    result = await run(
        editor,
        "ports.js",
        """(() => {
            const types = new Map([
                ["switch", {type: "switch", outputs: ["otherwise"], outputsFromConfig: true}],
                ["filter", {type: "filter", outputs: ["out", "unmatched"]}],
            ]);
            const ports = new m.ConfigPorts(types);
            const node = {type: "switch", config: {rules: [{name: "hot"}], mode: "first"}, wires: {cold: ["x"]}};
            const before = ports.portsOf(node);
            ports.remember(node, ["hot", "otherwise"]);
            const reordered = {type: "switch", config: {mode: "first", rules: [{name: "hot"}]}};
            const wired = {type: "switch", wires: {hot: ["a"], cold: ["b"], otherwise: ["c"]}};
            const gone = m.dropWiresOfMissingPorts(wired, ["hot", "otherwise"]);
            return {
                before, after: ports.portsOf(reordered), filter: ports.portsOf({type: "filter"}),
                unknown: ports.portsOf({type: "nope"}), gone, left: wired.wires,
                same: m.stableJson({b: 1, a: [{d: 2, c: 3}]}) === m.stableJson({a: [{c: 3, d: 2}], b: 1}),
            };
        })()""",
    )
    assert result["before"] == ["cold", "otherwise"]  # not asked yet: the ports its wires name, then the type's
    assert result["after"] == ["hot", "otherwise"]  # the same config with its keys in another order
    assert result["filter"] == ["out", "unmatched"] and result["unknown"] == ["out"]
    assert result["gone"] == ["cold"] and result["left"] == {"hot": ["a"], "otherwise": ["c"]}
    assert result["same"] is True


async def test_flow_model_edits_keep_wires_consistent_and_know_what_is_deployed(editor):
    body = """(() => {
        const model = new m.FlowModel(() => {});
        model.load({id: 'f', nodes: [
            {id: 'a', type: 'inject', wires: {out: ['b']}}, {id: 'b', type: 'debug'}]});
        const dirtyAtLoad = model.isDirty();
        const added = model.addNode('debug', 10, 20);
        model.addWire({from: 'a', port: 'out', to: added.id});
        model.addWire({from: 'a', port: 'out', to: added.id});
        const twice = model.nodeById('a').wires.out.slice();
        model.renameNode('b', 'shown');
        const renamed = model.nodeById('a').wires.out.slice();
        model.removeNode('shown');
        const removed = model.nodeById('a').wires.out.slice();
        const payload = model.payload();
        return {dirtyAtLoad, added: added.id, at: model.flow.layout[added.id], twice, renamed, removed,
                dirty: model.isDirty(), payloadIds: payload.nodes.map((n) => n.id), laidOut: 'b' in model.flow.layout};
    })()"""
    result = await run(editor, "flow-model.js", f"{body}")
    assert result["dirtyAtLoad"] is False  # a flow just loaded (positions filled in) has nothing to deploy
    assert result["added"] == "debug-1" and result["at"] == {"x": 10, "y": 20}
    assert result["twice"] == ["b", "debug-1"]  # the same wire twice is one wire
    assert result["renamed"] == ["shown", "debug-1"]
    assert result["removed"] == ["debug-1"]  # a removed node's wires go with it
    assert result["dirty"] is True and result["payloadIds"] == ["a", "debug-1"]
    assert result["laidOut"] is False


async def test_flow_model_restores_undo_snapshots_in_one_step_per_gesture(editor):
    body = """new Promise((resolve) => {
        let recorded = 0;
        const model = new m.FlowModel(() => { recorded += 1; });
        model.load({id: 'f', nodes: [{id: 'a', type: 'inject'}]});
        model.addNode('debug', 0, 0);
        model.changed();
        model.changed();  // a node and its wires removed: several events, one gesture
        queueMicrotask(() => {
            const undone = model.restore(model.history.undo());
            resolve({recorded, undone, nodes: model.flow.nodes.map((n) => n.id), dirty: model.isDirty(),
                     nothing: model.restore(null)});
        });
    })"""
    result = await run(editor, "flow-model.js", body)
    assert result["recorded"] == 1
    assert result["undone"] is True and result["nodes"] == ["a"]
    assert result["dirty"] is False and result["nothing"] is False
