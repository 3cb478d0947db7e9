#!/usr/bin/env python3
"""Writes the siloscope Grafana dashboards (dashboards/*.json) from the definitions below.

Edit this file, then run `python3 dashboards/generate.py`; `cargo test --test dashboards` checks
the JSON against Grafana's dashboard schema, parses every query with promtool and checks every
metric name. Boards show teams and team pairs only: distributions and trends, never a ranking of
people (no metric has a person label), and every speed panel sits beside its guardrail.
"""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
DS = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION = 39

# Definitions from SIGNALS.md, reused in panel descriptions.
D_HANDOFF = (
    "A handoff happens when custody of an item moves from team A to team B (reassign: label, status, "
    "component or assignee; transfer: moved to another team's repo or project), or when a review of A's "
    "pull request is requested from a person or team in B (review)."
)
D_LATENCY = (
    "Handoff latency = acknowledgement time − handoff time; acknowledged at the first later event on the "
    "item by a non-bot member of the receiving team (comment, review, status change, assignment to a member, "
    "label, commit, close)."
)
D_WAITING = (
    "Waiting: not acknowledged yet, the item still open and still with the receiving team. Stalled: waiting "
    "longer than the stall threshold (default 2 days; per team and per kind in the config; optionally in the "
    "receiving team's working hours)."
)
D_BOUNCE = (
    "A bounce (ping-pong): custody returns from B to A within the bounce window (default 7 days) of A → B on "
    "the same item. from_team is A, to_team is B (the team that sent it back)."
)
D_DECISION = (
    "A decision is an item matched by the decision selector (labels decision/adr/rfc, a Decision issue type, "
    "or a decision-record file); it is made when closed as completed (done, merged, accepted)."
)
D_REHASH = (
    "Rehashed: after it was made, within the rehash window (default 90 days), the decision was reopened, "
    "superseded by a later item, its record turned Superseded/Deprecated, or discussion resumed (at least 3 "
    "comments from at least 2 teams). Rehash rate = decisions rehashed / decisions made, per team."
)
D_REWORK = "Rework, for all items: reopened after close (the team holding it), and merged changes later reverted (the author's team)."
D_REVIEW = (
    "A submitted review by reviewer R on a pull request authored by P is cross-team when team(R) ≠ team(P) at "
    "review time. Reviews by bots and by the author are not reviews."
)
D_PICKUP = (
    "Review pickup = first review by the requested reviewer (or any member of the requested team) − review "
    "request time, not counting time the pull request spent as a draft."
)
D_RECIPROCITY = (
    "Reciprocity of a team pair {A, B} in a window = min(g(A→B), g(B→A)) / max(g(A→B), g(B→A)), where g(X→Y) "
    "is the number of reviews members of X gave on pull requests of Y. 1 = balanced give and take, 0 = one side "
    "only gives; not shown when neither reviewed the other."
)
D_ENGAGEMENT = (
    "Cross-team engagement: comments, reviews and mentions by members of team X on items held by team Y (X ≠ Y); "
    "a mention of a team handle counts for the mentioned team."
)
D_FIRST_RESPONSE = (
    "First response to a request from another team: on an item opened by a member of X and held by Y, the time "
    "to the first event by a member of Y."
)
D_JOINT = (
    "Joint win: an item completed (merged, or closed as done) whose contributors (author, assignees, approving "
    "reviewers, committers) come from at least 2 teams; each team involved counts it once."
)
D_BRIDGE = (
    "Bridge person: a person who, in the window, interacted (reviewed, commented on, co-authored) with items of "
    "at least 2 teams other than their own. Only the count per team is exported, never who."
)
D_SILO = "Silo index of a team in a window: share of its members' interactions that stay inside the team (1 = fully siloed)."
D_COVERAGE = (
    "Directory coverage: the share of each source's events in the window (bots and actor-less events excluded) whose "
    "actor the team directory resolves to a team at the event's time, and the share of its active identities resolved "
    "at their latest event. Activity of someone missing from the directory counts for no team: their handoffs and "
    "acknowledgements go missing. SiloscopeDirectoryCoverageLow fires under the configured warning ([signals] "
    "coverage_warning, default 95%); `siloscope teams suggest` proposes the missing entries."
)
D_PRIVACY = " Teams with fewer active people than the privacy floor appear as `other`."
D_PERIOD = " Over the dashboard's time range."


def target(expr, legend="", instant=False, fmt=None, ref="A"):
    t = {"refId": ref, "datasource": DS, "expr": expr, "legendFormat": legend or "__auto", "range": not instant, "instant": instant}
    if fmt:
        t["format"] = fmt
    return t


def field_config(unit="short", min_value=None, max_value=None, thresholds=None, decimals=None):
    defaults = {"unit": unit, "color": {"mode": "palette-classic"}}
    if min_value is not None:
        defaults["min"] = min_value
    if max_value is not None:
        defaults["max"] = max_value
    if decimals is not None:
        defaults["decimals"] = decimals
    if thresholds:
        defaults["color"] = {"mode": "thresholds"}
        defaults["thresholds"] = {
            "mode": "absolute",
            "steps": [{"value": None, "color": thresholds[0][1]}] + [{"value": v, "color": c} for v, c in thresholds[1:]],
        }
    return {"defaults": defaults, "overrides": []}


def panel(kind, title, description, targets, w=12, h=8, unit="short", **extra):
    p = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets,
        "fieldConfig": extra.pop("field_config", field_config(unit)),
        "options": extra.pop("options", {}),
        "_w": w,
        "_h": h,
    }
    p.update(extra)
    return p


def timeseries(title, description, targets, unit="short", w=12, h=8, **kw):
    fc = kw.pop("field_config", field_config(unit, kw.pop("min_value", None), kw.pop("max_value", None)))
    return panel("timeseries", title, description, targets, w, h, field_config=fc,
                 options={"legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull"]},
                          "tooltip": {"mode": "multi", "sort": "none"}}, **kw)


def stat(title, description, targets, unit="short", w=6, h=4, thresholds=None, **kw):
    return panel("stat", title, description, targets, w, h,
                 field_config=field_config(unit, thresholds=thresholds or [(None, "green")]),
                 options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                          "colorMode": "value", "graphMode": "area", "textMode": "auto", "justifyMode": "auto"}, **kw)


def bargauge(title, description, targets, unit="short", w=12, h=8, max_value=None, **kw):
    return panel("bargauge", title, description, targets, w, h, field_config=field_config(unit, 0, max_value),
                 options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                          "orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True}, **kw)


def table(title, description, targets, unit="short", w=12, h=8, transformations=None, **kw):
    p = panel("table", title, description, targets, w, h, field_config=field_config(unit),
              options={"showHeader": True, "cellHeight": "sm"}, **kw)
    p["transformations"] = transformations or []
    return p


def matrix(title, description, expr, row, column, unit="short", w=12, h=9):
    """A team × team matrix from one instant query (rows and columns are team labels)."""
    return table(title, description, [target(expr, instant=True, fmt="table")], unit, w, h, transformations=[
        {"id": "groupingToMatrix", "options": {"rowField": row, "columnField": column, "valueField": "Value", "emptyValue": "null"}},
    ])


def heatmap(title, description, expr, w=12, h=9):
    """Latency distribution per day from a histogram (Prometheus buckets as the y axis)."""
    p = panel("heatmap", title, description, [target(expr, legend="{{le}}", fmt="heatmap")], w, h,
              field_config={"defaults": {"custom": {"scaleDistribution": {"type": "linear"}}}, "overrides": []},
              options={"calculate": False, "yAxis": {"axisPlacement": "left", "unit": "s"},
                       "cellGap": 1, "color": {"mode": "scheme", "scheme": "Blues", "steps": 64, "exponent": 0.5, "fill": "dark-blue", "scale": "exponential"},
                       "rowsFrame": {"layout": "auto"}, "tooltip": {"show": True, "yHistogram": True},
                       "legend": {"show": True}, "exemplars": {"color": "rgba(255,0,255,0.7)"}})
    p["interval"] = "1d"
    p["maxDataPoints"] = 120
    return p


def row(title):
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "_w": 24, "_h": 1}


def variable_query(name, label, query, multi=True, include_all=True, hide=0):
    v = {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DS,
        "query": query,
        "definition": query,
        "refresh": 2,
        "sort": 1,
        "multi": multi,
        "includeAll": include_all,
        "hide": hide,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]} if include_all else {"text": "", "value": ""},
        "options": [],
        "regex": "",
    }
    if include_all:
        v["allValue"] = ".*"
    return v


DATASOURCE_VAR = {
    "type": "datasource",
    "name": "datasource",
    "label": "Data source",
    "query": "prometheus",
    "current": {"selected": False, "text": "default", "value": "default"},
    "hide": 0,
    "includeAll": False,
    "multi": False,
    "options": [],
    "refresh": 1,
    "regex": "",
}

TEAM_VARS = [
    variable_query("team", "Team", "label_values(siloscope_team_members, team)"),
    variable_query("from_team", "From team", "label_values(siloscope_handoffs_total, from_team)"),
    variable_query("to_team", "To team", "label_values(siloscope_handoffs_total, to_team)"),
]

WINDOW_VAR = {
    "type": "custom",
    "name": "window",
    "label": "Window",
    "query": "7d,28d,90d",
    "current": {"selected": True, "text": "28d", "value": "28d"},
    "options": [
        {"selected": False, "text": "7d", "value": "7d"},
        {"selected": True, "text": "28d", "value": "28d"},
        {"selected": False, "text": "90d", "value": "90d"},
    ],
    "hide": 0,
    "includeAll": False,
    "multi": False,
    "description": "Rolling window of the windowed gauges (reciprocity, bridge people, silo index).",
}


def layout(panels):
    """Places panels left to right, wrapping at 24 columns; rows take a line of their own."""
    out, x, y, line_h = [], 0, 0, 0
    for i, p in enumerate(panels, start=1):
        w, h = p.pop("_w"), p.pop("_h")
        if p["type"] == "row" or x + w > 24:
            y += line_h
            x, line_h = 0, 0
        p["id"] = i
        p["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
        out.append(p)
        if p["type"] == "row":
            y += 1
        else:
            x += w
            line_h = max(line_h, h)
    return out


def dashboard(uid, title, description, panels, variables, time_from="now-28d", refresh="5m"):
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["siloscope"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "time": {"from": time_from, "to": "now"},
        "timepicker": {"refresh_intervals": ["1m", "5m", "15m", "1h", "1d"]},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "refresh": refresh,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "weekStart": "monday",
        "links": [{
            "title": "siloscope", "type": "dashboards", "icon": "external link", "tooltip": "Other siloscope boards",
            "tags": ["siloscope"], "asDropdown": True, "targetBlank": False, "includeVars": True, "keepTime": True,
        }],
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True, "hide": True,
            "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard",
        }]},
        "templating": {"list": [DATASOURCE_VAR] + variables},
        "panels": layout(panels),
    }


PAIR = 'from_team=~"$from_team", to_team=~"$to_team"'


def retro():
    p = [
        row("Handoffs between teams"),
        table("Handoff latency per team pair (period): p50 and p75",
              "The middle and the slow end of how long handoffs from one team waited for the receiving team to act, "
              "per pair, over the dashboard's time range. " + D_HANDOFF + " " + D_LATENCY + D_PRIVACY,
              [target(f"histogram_quantile(0.5, sum by (from_team, to_team, le) (increase(siloscope_handoff_latency_seconds_bucket{{{PAIR}}}[$__range])))", instant=True, fmt="table", ref="p50"),
               target(f"histogram_quantile(0.75, sum by (from_team, to_team, le) (increase(siloscope_handoff_latency_seconds_bucket{{{PAIR}}}[$__range])))", instant=True, fmt="table", ref="p75")],
              unit="s", transformations=[{"id": "merge", "options": {}},
                                         {"id": "organize", "options": {"excludeByName": {"Time": True},
                                                                        "renameByName": {"Value #p50": "p50", "Value #p75": "p75"}}}]),
        stat("Handoffs stalled now", "Handoffs waiting past the stall threshold right now, for the selected pairs. " + D_WAITING,
             [target(f"sum(siloscope_handoffs_stalled{{{PAIR}}})")], w=6, h=8, thresholds=[(None, "green"), (1, "orange")]),
        bargauge("Stalled now, by receiving team", "Stalled handoffs per team they wait on. " + D_WAITING,
                 [target(f"sum by (to_team) (siloscope_handoffs_stalled{{{PAIR}}})", legend="{{to_team}}", instant=True)], w=6, h=8),
        timeseries("Handoff latency trend: p75 over 7 days, per pair",
                   "The slow end of handoff latency, each point over the 7 days before it (recording rule "
                   "from_team_to_team:siloscope_handoff_latency_seconds:p75_7d). Read it beside the bounce rate: "
                   "a handoff acknowledged fast and then sent back is not fast. " + D_LATENCY,
                   [target(f"from_team_to_team:siloscope_handoff_latency_seconds:p75_7d{{{PAIR}}}", "{{from_team}} → {{to_team}}")], unit="s"),
        timeseries("Guardrail: bounce rate over 28 days, per pair",
                   "Bounces per reassign or transfer handoff from from_team to to_team, over the 28 days before each point "
                   "(recording rule from_team_to_team:siloscope_handoff_bounces:ratio_28d). " + D_BOUNCE,
                   [target(f"from_team_to_team:siloscope_handoff_bounces:ratio_28d{{{PAIR}}}", "{{from_team}} ⇄ {{to_team}}")], unit="percentunit", min_value=0),
        bargauge("Bounces (period)", "Items that came back within the bounce window, per pair, over the dashboard's time range. " + D_BOUNCE,
                 [target(f"sum by (from_team, to_team) (increase(siloscope_handoff_bounces_total{{{PAIR}}}[$__range]))", "{{from_team}} ⇄ {{to_team}}", instant=True)], w=12),
        bargauge("Handoffs (period), by kind", "How many handoffs the selected pairs made, by kind, over the dashboard's time range. " + D_HANDOFF,
                 [target(f"sum by (kind) (increase(siloscope_handoffs_total{{{PAIR}}}[$__range]))", "{{kind}}", instant=True)], w=12),
        row("Decisions"),
        bargauge("Rehash rate (period), by team", "Decisions rehashed per decision made over the dashboard's time range. " + D_DECISION + " " + D_REHASH,
                 [target('sum by (team) (increase(siloscope_decisions_rehashed_total{team=~"$team"}[$__range])) / sum by (team) (increase(siloscope_decisions_total{team=~"$team"}[$__range]))', "{{team}}", instant=True)],
                 unit="percentunit", max_value=1),
        timeseries("Rehash rate trend: 28 days", "Each point: decisions rehashed / decisions made over the 28 days before it (recording rule team:siloscope_decisions_rehashed:ratio_28d). " + D_REHASH,
                   [target('team:siloscope_decisions_rehashed:ratio_28d{team=~"$team"}', "{{team}}")], unit="percentunit", min_value=0),
        row("Reviews across teams"),
        timeseries("Review pickup trend: p50 over 7 days, by reviewing team",
                   "How long review requests waited for a first review, each point over the 7 days before it. Read it "
                   "beside the share of reviews that asked for changes or commented: fast pickup with no substance is "
                   "rubber-stamping. " + D_PICKUP,
                   [target('reviewer_team:siloscope_review_pickup_seconds:p50_7d{reviewer_team=~"$team"}', "{{reviewer_team}}")], unit="s"),
        timeseries("Guardrail: reviews that asked for changes or commented (28 days)",
                   "Share of the team's submitted reviews that requested changes or commented rather than approving, over "
                   "the 28 days before each point (recording rule reviewer_team:siloscope_reviews:substantive_ratio_28d). " + D_REVIEW,
                   [target('reviewer_team:siloscope_reviews:substantive_ratio_28d{reviewer_team=~"$team"}', "{{reviewer_team}}")], unit="percentunit", min_value=0, max_value=1),
        timeseries("Cross-team review share (28 days)", "Share of the team's reviews given on other teams' pull requests, over the 28 days before each point (recording rule reviewer_team:siloscope_reviews:cross_team_ratio_28d). " + D_REVIEW,
                   [target('reviewer_team:siloscope_reviews:cross_team_ratio_28d{reviewer_team=~"$team"}', "{{reviewer_team}}")], unit="percentunit", min_value=0, max_value=1),
        matrix("Review reciprocity ($window)", "Rows team_a, columns team_b (team_a < team_b alphabetically). " + D_RECIPROCITY + D_PRIVACY,
               'max by (team_a, team_b) (siloscope_review_reciprocity_ratio{window=~"$window", team_a=~"$team"} or siloscope_review_reciprocity_ratio{window=~"$window", team_b=~"$team"})',
               "team_a", "team_b", unit="percentunit"),
        row("Working together"),
        timeseries("First response trend: p50 over 7 days, by owning team",
                   "How long an item opened by another team waited for the owning team's first event, each point over the 7 days "
                   "before it. Read it beside bounces: a quick first response that hands the item back is not an answer. " + D_FIRST_RESPONSE,
                   [target('owner_team:siloscope_first_response_seconds:p50_7d{owner_team=~"$team"}', "{{owner_team}}")], unit="s"),
        bargauge("Guardrail: bounces sent back by the team (period)", "Items the team sent back to the team that handed them over, within the bounce window, over the dashboard's time range. " + D_BOUNCE,
                 [target('sum by (to_team) (increase(siloscope_handoff_bounces_total{to_team=~"$team"}[$__range]))', "{{to_team}}", instant=True)]),
        bargauge("Joint wins (period)", "Items completed with contributors from at least two teams, over the dashboard's time range. " + D_JOINT,
                 [target('sum by (team) (increase(siloscope_joint_wins_total{team=~"$team"}[$__range]))', "{{team}}", instant=True)], w=8),
        bargauge("Bridge people ($window)", D_BRIDGE + D_PRIVACY,
                 [target('siloscope_bridge_people{team=~"$team", window=~"$window"}', "{{team}}", instant=True)], w=8),
        bargauge("Silo index ($window)", D_SILO + D_PRIVACY,
                 [target('siloscope_silo_index{team=~"$team", window=~"$window"}', "{{team}}", instant=True)], w=8, unit="percentunit", max_value=1),
        matrix("Cross-team engagement (period): actor team × owner team", D_ENGAGEMENT + D_PERIOD,
               'sum by (actor_team, owner_team) (increase(siloscope_engagements_total{actor_team=~"$team"}[$__range]))', "actor_team", "owner_team", w=24),
    ]
    return dashboard("siloscope-retro", "siloscope / Cross-team retro",
                     "For a team retro over the chosen period: how handoffs, decisions and reviews crossed team boundaries. "
                     "Teams and team pairs only, never people; every speed panel sits beside its guardrail.",
                     p, TEAM_VARS + [WINDOW_VAR])


def handoffs():
    inbound = 'to_team=~"$team"'
    outbound = 'from_team=~"$team"'
    p = [
        stat("Waiting on the team now", "Inbound handoffs waiting for the team to act. " + D_WAITING,
             [target(f"sum(siloscope_handoffs_waiting{{{inbound}}})")]),
        stat("Stalled on the team now", "Inbound handoffs waiting past the stall threshold. " + D_WAITING,
             [target(f"sum(siloscope_handoffs_stalled{{{inbound}}})")], thresholds=[(None, "green"), (1, "orange")]),
        stat("Oldest inbound wait", "How long the oldest waiting inbound handoff has waited (0 when none waits). " + D_WAITING,
             [target(f"max(siloscope_handoff_oldest_wait_seconds{{{inbound}}})")], unit="s"),
        stat("Outbound, waiting on others now", "Handoffs the team made that still wait for the receiving team. " + D_WAITING,
             [target(f"sum(siloscope_handoffs_waiting{{{outbound}}})")]),
        timeseries("Inbound waiting and stalled, by sending team", "Handoffs to the team, waiting and stalled over time, by the team that handed them over. " + D_WAITING,
                   [target(f"sum by (from_team) (siloscope_handoffs_waiting{{{inbound}}})", "waiting from {{from_team}}", ref="waiting"),
                    target(f"sum by (from_team) (siloscope_handoffs_stalled{{{inbound}}})", "stalled from {{from_team}}", ref="stalled")]),
        timeseries("Outbound waiting and stalled, by receiving team", "Handoffs from the team, waiting and stalled over time, by the team they wait on. " + D_WAITING,
                   [target(f"sum by (to_team) (siloscope_handoffs_waiting{{{outbound}}})", "waiting on {{to_team}}", ref="waiting"),
                    target(f"sum by (to_team) (siloscope_handoffs_stalled{{{outbound}}})", "stalled on {{to_team}}", ref="stalled")]),
        heatmap("Inbound latency distribution, per day", "How long inbound handoffs waited for the team to act, per day (buckets 5m … 30d). " + D_LATENCY,
                f"sum by (le) (increase(siloscope_handoff_latency_seconds_bucket{{{inbound}}}[1d]))"),
        heatmap("Outbound latency distribution, per day", "How long the team's handoffs waited for the receiving team, per day. " + D_LATENCY,
                f"sum by (le) (increase(siloscope_handoff_latency_seconds_bucket{{{outbound}}}[1d]))"),
        timeseries("Inbound latency trend: p50 and p75 over 7 days", "Each point over the 7 days before it (recording rules to_team:siloscope_handoff_latency_seconds:p50_7d and :p75_7d). Read it beside the bounce rate. " + D_LATENCY,
                   [target('to_team:siloscope_handoff_latency_seconds:p50_7d{to_team=~"$team"}', "p50 {{to_team}}", ref="p50"),
                    target('to_team:siloscope_handoff_latency_seconds:p75_7d{to_team=~"$team"}', "p75 {{to_team}}", ref="p75")], unit="s"),
        timeseries("Guardrail: bounce rate of inbound handoffs (28 days)", "Bounces per reassign or transfer handoff to the team, over the 28 days before each point. " + D_BOUNCE,
                   [target('from_team_to_team:siloscope_handoff_bounces:ratio_28d{to_team=~"$team"}', "{{from_team}} ⇄ {{to_team}}")], unit="percentunit", min_value=0),
        matrix("Handoffs (period): from team × to team", "Handoffs per pair over the dashboard's time range, all teams (pick a team to read its row and column). " + D_HANDOFF,
               "sum by (from_team, to_team) (increase(siloscope_handoffs_total[$__range]))", "from_team", "to_team", w=24),
        bargauge("Inbound handoffs (period), by kind and sending team", D_HANDOFF + D_PERIOD,
                 [target(f"sum by (kind, from_team) (increase(siloscope_handoffs_total{{{inbound}}}[$__range]))", "{{kind}} from {{from_team}}", instant=True)]),
        bargauge("Outbound handoffs (period), by kind and receiving team", D_HANDOFF + D_PERIOD,
                 [target(f"sum by (kind, to_team) (increase(siloscope_handoffs_total{{{outbound}}}[$__range]))", "{{kind}} to {{to_team}}", instant=True)]),
    ]
    return dashboard("siloscope-handoffs", "siloscope / Handoffs",
                     "One team's inbound and outbound handoffs: what waits now, what stalled, how long handoffs take, and with whom.",
                     p, [variable_query("team", "Team", "label_values(siloscope_team_members, team)")], time_from="now-28d", refresh="1m")


def reviews():
    p = [
        timeseries("Review pickup trend: p50 and p75 over 7 days", "Each point over the 7 days before it. Read it beside the guardrail on the right. " + D_PICKUP,
                   [target('reviewer_team:siloscope_review_pickup_seconds:p50_7d{reviewer_team=~"$team"}', "p50 {{reviewer_team}}", ref="p50"),
                    target('reviewer_team:siloscope_review_pickup_seconds:p75_7d{reviewer_team=~"$team"}', "p75 {{reviewer_team}}", ref="p75")], unit="s"),
        timeseries("Guardrail: reviews that asked for changes or commented (28 days)", "Share of submitted reviews that requested changes or commented rather than approving. " + D_REVIEW,
                   [target('reviewer_team:siloscope_reviews:substantive_ratio_28d{reviewer_team=~"$team"}', "{{reviewer_team}}")], unit="percentunit", min_value=0, max_value=1),
        heatmap("Review pickup distribution, per day", "Pickup of review requests to the team, per day (buckets 5m … 30d). " + D_PICKUP,
                'sum by (le) (increase(siloscope_review_pickup_seconds_bucket{reviewer_team=~"$team"}[1d]))'),
        bargauge("Review states given (period)", "Reviews the team submitted over the dashboard's time range, by state (approved, changes_requested, commented). " + D_REVIEW,
                 [target('sum by (state) (increase(siloscope_reviews_total{reviewer_team=~"$team"}[$__range]))', "{{state}}", instant=True)]),
        timeseries("Cross-team review share (28 days)", "Share of the team's reviews given on other teams' pull requests. " + D_REVIEW,
                   [target('reviewer_team:siloscope_reviews:cross_team_ratio_28d{reviewer_team=~"$team"}', "{{reviewer_team}}")], unit="percentunit", min_value=0, max_value=1),
        matrix("Reviews given (period): reviewer team × author team", "Reviews per pair over the dashboard's time range; the diagonal is same-team review. " + D_REVIEW,
               "sum by (reviewer_team, author_team) (increase(siloscope_reviews_total[$__range]))", "reviewer_team", "author_team"),
        matrix("Review pickup p50 (period): author team × reviewer team", D_PICKUP + D_PERIOD,
               "histogram_quantile(0.5, sum by (author_team, reviewer_team, le) (increase(siloscope_review_pickup_seconds_bucket[$__range])))",
               "author_team", "reviewer_team", unit="s"),
        matrix("Review reciprocity ($window)", "Rows team_a, columns team_b. " + D_RECIPROCITY + D_PRIVACY,
               'siloscope_review_reciprocity_ratio{window=~"$window"}', "team_a", "team_b", unit="percentunit"),
    ]
    return dashboard("siloscope-reviews", "siloscope / Reviews across teams",
                     "Review pickup with its guardrail, cross-team review share, give and take between teams.",
                     p, [variable_query("team", "Team", "label_values(siloscope_team_members, team)"), WINDOW_VAR])


def decisions():
    p = [
        bargauge("Decisions made (period)", D_DECISION + D_PERIOD,
                 [target('sum by (team) (increase(siloscope_decisions_total{team=~"$team"}[$__range]))', "{{team}}", instant=True)], w=8),
        bargauge("Rehashed decisions by first reason (period)", D_REHASH + D_PERIOD,
                 [target('sum by (reason) (increase(siloscope_decisions_rehashed_total{team=~"$team"}[$__range]))', "{{reason}}", instant=True)], w=8),
        bargauge("Rehash rate (period)", "Decisions rehashed / decisions made over the dashboard's time range. " + D_REHASH,
                 [target('sum by (team) (increase(siloscope_decisions_rehashed_total{team=~"$team"}[$__range])) / sum by (team) (increase(siloscope_decisions_total{team=~"$team"}[$__range]))', "{{team}}", instant=True)],
                 w=8, unit="percentunit", max_value=1),
        timeseries("Rehash rate trend: 28 days", "Each point: decisions rehashed / decisions made over the 28 days before it. " + D_REHASH,
                   [target('team:siloscope_decisions_rehashed:ratio_28d{team=~"$team"}', "{{team}}")], unit="percentunit", min_value=0),
        timeseries("Decisions made (28 days)", "Decisions made over the 28 days before each point: a low rehash rate means little when few decisions are made. " + D_DECISION,
                   [target('team:siloscope_decisions:increase28d{team=~"$team"}', "{{team}}")]),
        timeseries("Rework trend: 28 days", "Reopened and reverted items over the 28 days before each point. " + D_REWORK,
                   [target('team_kind:siloscope_rework:increase28d{team=~"$team"}', "{{kind}} {{team}}")]),
        bargauge("Rework (period), by team and kind", D_REWORK + D_PERIOD,
                 [target('sum by (team, kind) (increase(siloscope_rework_total{team=~"$team"}[$__range]))', "{{kind}} {{team}}", instant=True)]),
        timeseries("Joint wins (28 days)", "Items completed together with other teams, over the 28 days before each point. " + D_JOINT,
                   [target('team:siloscope_joint_wins:increase28d{team=~"$team"}', "{{team}}")], w=24),
    ]
    return dashboard("siloscope-decisions", "siloscope / Decisions and rework",
                     "Decisions made and rehashed, rework, and the joint wins that balance them.",
                     p, [variable_query("team", "Team", "label_values(siloscope_team_members, team)")], time_from="now-90d", refresh="15m")


def health():
    src = 'source=~"$source"'
    p = [
        stat("Sources up", "1 when the source's last sync succeeded, 0 when it failed (SiloscopeSourceDown fires after 30 minutes at 0).", [target(f"siloscope_source_up{{{src}}}", "{{source}}")],
             thresholds=[(None, "red"), (1, "green")]),
        stat("Since last successful sync", "Time since each source last synced successfully; SiloscopeSyncStale fires past 2 hours. Signals keep stored history meanwhile.",
             [target(f"time() - siloscope_source_last_success_timestamp_seconds{{{src}}}", "{{source}}")], unit="s",
             thresholds=[(None, "green"), (3600, "orange"), (7200, "red")]),
        stat("Signals age", "Time since siloscope last computed its signals (recomputed on new events and every minute).",
             [target("time() - siloscope_last_compute_timestamp_seconds", "{{instance}}")], unit="s",
             thresholds=[(None, "green"), (300, "orange"), (900, "red")]),
        stat("Events stored", "Activity events in siloscope's store (each stored once, whatever the number of syncs that saw it).", [target("siloscope_events_stored", "{{instance}}")]),
        timeseries("API requests, by status", "Requests per second each source made to its API, by HTTP status (`error` for transport failures).",
                   [target(f"sum by (source, status) (rate(siloscope_source_requests_total{{{src}}}[$__rate_interval]))", "{{source}} {{status}}")], unit="reqps"),
        timeseries("Source errors, by kind", "Errors per kind (transport, http, rate_limit, malformed, store, ceiling, loop, …) in each interval.",
                   [target(f"sum by (source, kind) (increase(siloscope_source_errors_total{{{src}}}[$__rate_interval]))", "{{source}} {{kind}}")]),
        timeseries("Rate limit remaining", "Requests (or points) left in each source's current rate-limit window; SiloscopeRateLimitNearlyExhausted fires below 10% of the most seen in a day.",
                   [target(f"siloscope_source_rate_limit_remaining{{{src}}}", "{{source}}")], min_value=0),
        timeseries("First backfill: progress", "How far each source's first sync since siloscope started has come through the history to cover: 1 once caught up, and it stays 1 through the later incremental syncs.",
                   [target(f"max by (source) (siloscope_source_backfill_progress_ratio{{{src}}})", "{{source}}")],
                   unit="percentunit", min_value=0, max_value=1),
        timeseries("First backfill: time left", "The time each source's first sync still needs, at its pace so far and within its rate limit (0 once caught up).",
                   [target(f"max by (source) (siloscope_source_backfill_eta_seconds{{{src}}})", "{{source}}")],
                   unit="s", min_value=0),
        timeseries("Sync duration: p50 and p90", "How long each source's syncs took, from the first step to caught up (a long backfill is many steps).",
                   [target(f"histogram_quantile(0.5, sum by (source, le) (rate(siloscope_source_sync_duration_seconds_bucket{{{src}}}[$__rate_interval])))", "p50 {{source}}", ref="p50"),
                    target(f"histogram_quantile(0.9, sum by (source, le) (rate(siloscope_source_sync_duration_seconds_bucket{{{src}}}[$__rate_interval])))", "p90 {{source}}", ref="p90")], unit="s"),
        timeseries("Ingest volume", "New events stored per second, per source: events seen again on a re-sync are not counted.",
                   [target(f"sum by (source) (rate(siloscope_events_ingested_total{{{src}}}[$__rate_interval]))", "{{source}}")], unit="ops"),
        timeseries("Items in the store", "Work items in the store by source, kind (issue, pull_request, ticket…) and state (open, closed, merged).",
                   [target(f"siloscope_items{{{src}}}", "{{source}} {{kind}} {{state}}")]),
        timeseries("Compute duration", "How long the last full computation of the signals took (frame → facts → exported values).",
                   [target("siloscope_compute_duration_seconds", "{{instance}}")], unit="s"),
        timeseries("HTTP connections", "Connections open on siloscope's listener (at most 512), and connections it closed per second, by reason: evicted (the limit was reached and the quietest connection that never sent a whole request made room), first_byte_timeout and head_timeout (silent or stalled 10 s), idle_timeout (a kept-alive connection idle 5 minutes). A steady eviction rate means a client holds connections open: /metrics keeps answering.",
                   [target("siloscope_http_connections", "{{instance}} open", ref="open"),
                    target("sum by (instance, reason) (rate(siloscope_http_connections_dropped_total[$__rate_interval]))", "{{instance}} closed: {{reason}}", ref="dropped")]),
        timeseries("Directory coverage", D_COVERAGE,
                   [target(f'max by (source) (siloscope_directory_event_coverage_ratio{{{src}, window="$window"}})', "{{source}} events", ref="events"),
                    target(f'max by (source) (siloscope_directory_identity_coverage_ratio{{{src}, window="$window"}})', "{{source}} identities", ref="identities"),
                    target("max(siloscope_directory_coverage_warning_ratio)", "warning under", ref="warning")],
                   unit="percentunit", min_value=0, max_value=1),
        stat("Active identities in no team", "Identities that acted in the window and that the team directory resolves to no team, per source (a count, never who: `siloscope teams` lists them, `siloscope teams suggest` proposes their team).",
             [target(f'max by (source) (siloscope_directory_unresolved_identities{{{src}, window="$window"}})', "{{source}}")],
             thresholds=[(None, "green"), (1, "orange")]),
        table("Versions", "siloscope version of each scraped instance (siloscope_build_info), to spot a mixed rollout.", [target("siloscope_build_info", instant=True, fmt="table")],
              transformations=[{"id": "organize", "options": {"excludeByName": {"Time": True, "Value": True, "__name__": True}}}]),
    ]
    return dashboard("siloscope-health", "siloscope / Health",
                     "siloscope itself: sources up, last success, requests and errors, rate-limit headroom, first backfill progress and time left, sync duration, ingest volume.",
                     p, [variable_query("source", "Source", "label_values(siloscope_source_up, source)"), WINDOW_VAR], time_from="now-24h", refresh="1m")


BOARDS = {
    "siloscope-retro.json": retro,
    "siloscope-handoffs.json": handoffs,
    "siloscope-reviews.json": reviews,
    "siloscope-decisions.json": decisions,
    "siloscope-health.json": health,
}

if __name__ == "__main__":
    for name, build in BOARDS.items():
        with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
            json.dump(build(), f, indent=2, ensure_ascii=False)
            f.write("\n")
        print(f"wrote dashboards/{name}")
