//===- Schedule.cpp - pipeline schedules, their checks and timelines ------===//

#include "gpipe/Transforms/Schedule.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <tuple>

using namespace mlir::gpipe;

const char *mlir::gpipe::scheduleKindName(ScheduleKind kind) {
  return kind == ScheduleKind::GPipe ? "gpipe" : "1f1b";
}

const char *mlir::gpipe::recomputePolicyName(RecomputePolicy policy) {
  switch (policy) {
  case RecomputePolicy::None: return "none";
  case RecomputePolicy::Full: return "full";
  case RecomputePolicy::ExceptLast: return "except-last";
  case RecomputePolicy::Auto: return "auto";
  }
  return "none";
}

std::optional<ScheduleKind> mlir::gpipe::parseScheduleKind(const std::string &name) {
  for (ScheduleKind kind : {ScheduleKind::GPipe, ScheduleKind::OneFOneB})
    if (name == scheduleKindName(kind))
      return kind;
  return std::nullopt;
}

std::optional<RecomputePolicy> mlir::gpipe::parseRecomputePolicy(const std::string &name) {
  for (RecomputePolicy policy :
       {RecomputePolicy::None, RecomputePolicy::Full, RecomputePolicy::ExceptLast,
        RecomputePolicy::Auto})
    if (name == recomputePolicyName(policy))
      return policy;
  return std::nullopt;
}

const char *mlir::gpipe::actionName(ActionKind kind) {
  switch (kind) {
  case ActionKind::Forward: return "forward";
  case ActionKind::Recompute: return "recompute";
  case ActionKind::Backward: return "backward";
  case ActionKind::SendActivation: return "send activation";
  case ActionKind::RecvActivation: return "recv activation";
  case ActionKind::SendGradient: return "send gradient";
  case ActionKind::RecvGradient: return "recv gradient";
  case ActionKind::Update: return "update";
  }
  return "?";
}

namespace {
void forward(std::vector<Action> &p, int s, int k, int i) {
  if (s > 0)
    p.push_back({ActionKind::RecvActivation, i, s - 1});
  p.push_back({ActionKind::Forward, i});
  if (s + 1 < k)
    p.push_back({ActionKind::SendActivation, i, s + 1});
}

void backward(std::vector<Action> &p, int s, int k, int i, int m, RecomputePolicy policy) {
  if (s + 1 < k)
    p.push_back({ActionKind::RecvGradient, i, s + 1});
  bool recompute = policy == RecomputePolicy::Full || policy == RecomputePolicy::Auto ||
                   (policy == RecomputePolicy::ExceptLast && i != m - 1);
  if (recompute)
    p.push_back({ActionKind::Recompute, i});
  p.push_back({ActionKind::Backward, i});
  if (s > 0)
    p.push_back({ActionKind::SendGradient, i, s - 1});
}
} // namespace

Schedule mlir::gpipe::buildSchedule(int k, int m, ScheduleKind kind, RecomputePolicy policy) {
  Schedule schedule;
  schedule.stages = k;
  schedule.microBatches = m;
  schedule.kind = kind;
  schedule.recompute = policy;
  schedule.programs.resize(k);
  for (int s = 0; s < k; ++s) {
    std::vector<Action> &p = schedule.programs[s];
    if (kind == ScheduleKind::GPipe) {
      // Fill: every forward; drain: every backward, the latest first.
      for (int i = 0; i < m; ++i)
        forward(p, s, k, i);
      for (int i = m - 1; i >= 0; --i)
        backward(p, s, k, i, m, policy);
    } else {
      // PipeDream-flush: K - s - 1 forwards to fill, then one forward and
      // one backward in turn, then the remaining backwards.
      int warmup = std::min(k - s - 1, m);
      for (int i = 0; i < warmup; ++i)
        forward(p, s, k, i);
      for (int j = 0; j + warmup < m; ++j) {
        forward(p, s, k, warmup + j);
        backward(p, s, k, j, m, policy);
      }
      for (int j = std::max(0, m - warmup); j < m; ++j)
        backward(p, s, k, j, m, policy);
    }
    p.push_back({ActionKind::Update});
  }
  return schedule;
}

std::optional<std::string> mlir::gpipe::verifySchedule(const Schedule &schedule) {
  int k = schedule.stages;
  auto sequence = [&](int stage, ActionKind kind, int peer) {
    std::vector<int> mbs;
    for (const Action &a : schedule.programs[stage])
      if (a.kind == kind && a.peer == peer)
        mbs.push_back(a.microBatch);
    return mbs;
  };
  for (int s = 0; s + 1 < k; ++s) {
    if (sequence(s, ActionKind::SendActivation, s + 1) !=
        sequence(s + 1, ActionKind::RecvActivation, s))
      return "stage " + std::to_string(s) + " sends activations to stage " +
             std::to_string(s + 1) + " in another order than it receives them";
    if (sequence(s + 1, ActionKind::SendGradient, s) != sequence(s, ActionKind::RecvGradient, s + 1))
      return "stage " + std::to_string(s + 1) + " sends gradients to stage " + std::to_string(s) +
             " in another order than it receives them";
  }
  for (int s = 0; s < k; ++s)
    for (const Action &a : schedule.programs[s])
      if ((a.kind == ActionKind::SendActivation || a.kind == ActionKind::RecvActivation ||
           a.kind == ActionKind::SendGradient || a.kind == ActionKind::RecvGradient) &&
          (a.peer < 0 || a.peer >= k || a.peer == s))
        return "stage " + std::to_string(s) + " talks to stage " + std::to_string(a.peer);
  // Run the programs: sends are buffered, a receive waits for its message.
  std::map<std::tuple<int, int, int, int>, int> mailbox; // (from, to, grad?, mb) -> count
  std::vector<size_t> pc(k, 0);
  bool progress = true;
  while (progress) {
    progress = false;
    for (int s = 0; s < k; ++s)
      while (pc[s] < schedule.programs[s].size()) {
        const Action &a = schedule.programs[s][pc[s]];
        bool isGrad = a.kind == ActionKind::SendGradient || a.kind == ActionKind::RecvGradient;
        if (a.kind == ActionKind::SendActivation || a.kind == ActionKind::SendGradient) {
          ++mailbox[{s, a.peer, isGrad, a.microBatch}];
        } else if (a.kind == ActionKind::RecvActivation || a.kind == ActionKind::RecvGradient) {
          auto it = mailbox.find({a.peer, s, isGrad, a.microBatch});
          if (it == mailbox.end() || it->second == 0)
            break;
          --it->second;
        }
        ++pc[s];
        progress = true;
      }
  }
  std::string stuck;
  for (int s = 0; s < k; ++s)
    if (pc[s] < schedule.programs[s].size()) {
      const Action &a = schedule.programs[s][pc[s]];
      stuck += (stuck.empty() ? "" : "; ") + std::string("stage ") + std::to_string(s) +
               " waits at " + actionName(a.kind) + " of micro-batch " +
               std::to_string(a.microBatch) + " from stage " + std::to_string(a.peer);
    }
  if (!stuck.empty())
    return "the schedule deadlocks: " + stuck;
  return std::nullopt;
}

bool mlir::gpipe::recomputes(const Schedule &schedule, int s, int mb) {
  const std::vector<Action> &p = schedule.programs[s];
  return std::any_of(p.begin(), p.end(), [&](const Action &a) {
    return a.kind == ActionKind::Recompute && a.microBatch == mb;
  });
}

Timeline mlir::gpipe::simulate(const Schedule &schedule, const std::vector<StageCosts> &costs) {
  int k = schedule.stages;
  Timeline timeline;
  timeline.peakMemory.assign(k, 0);
  std::map<std::tuple<int, int, int, int>, double> arrival; // message -> time available
  std::vector<size_t> pc(k, 0);
  std::vector<double> clock(k, 0.0), live(k, 0.0);
  std::vector<std::map<int, double>> kept(k); // micro-batch -> bytes kept for backward
  double compute = 0;
  for (int s = 0; s < k; ++s)
    live[s] = timeline.peakMemory[s] = costs[s].stateBytes;
  bool progress = true;
  while (progress) {
    progress = false;
    for (int s = 0; s < k; ++s) {
      while (pc[s] < schedule.programs[s].size()) {
        const Action &a = schedule.programs[s][pc[s]];
        const StageCosts &c = costs[s];
        double start = clock[s], end = clock[s];
        bool recomputed = schedule.recompute == RecomputePolicy::Full ||
                          schedule.recompute == RecomputePolicy::Auto ||
                          (schedule.recompute == RecomputePolicy::ExceptLast &&
                           a.microBatch != schedule.microBatches - 1);
        // Under auto the forward keeps part of the activations beside the
        // inputs, and the recompute adds the rest.
        double partial = schedule.recompute == RecomputePolicy::Auto
                             ? std::min(c.keptBytes, c.activationBytes)
                             : 0.0;
        switch (a.kind) {
        case ActionKind::Forward: {
          end = start + c.forward;
          compute += c.forward;
          double keep = recomputed ? c.inputBytes + partial : c.activationBytes;
          // While it runs the forward holds its whole activations.
          timeline.peakMemory[s] = std::max(timeline.peakMemory[s], live[s] + c.activationBytes);
          kept[s][a.microBatch] = keep;
          live[s] += keep;
          break;
        }
        case ActionKind::Recompute:
          end = start + c.forward;
          compute += c.forward;
          live[s] += c.activationBytes - partial;
          kept[s][a.microBatch] += c.activationBytes - partial;
          break;
        case ActionKind::Backward:
          end = start + c.backward;
          compute += c.backward;
          // The backward also holds the gradients of what it keeps.
          timeline.peakMemory[s] = std::max(timeline.peakMemory[s], live[s] + c.activationBytes);
          live[s] -= kept[s][a.microBatch];
          kept[s].erase(a.microBatch);
          break;
        case ActionKind::Update:
          end = start + c.update;
          break;
        case ActionKind::SendActivation:
        case ActionKind::SendGradient: {
          bool grad = a.kind == ActionKind::SendGradient;
          double transfer = grad ? c.sendGradient : c.sendActivation;
          arrival[{s, a.peer, grad, a.microBatch}] = start + transfer;
          timeline.actions.push_back({s, a, start, start + transfer});
          ++pc[s];
          progress = true;
          continue;
        }
        case ActionKind::RecvActivation:
        case ActionKind::RecvGradient: {
          bool grad = a.kind == ActionKind::RecvGradient;
          auto it = arrival.find({a.peer, s, grad, a.microBatch});
          if (it == arrival.end())
            goto blocked;
          start = end = std::max(clock[s], it->second);
          break;
        }
        }
        timeline.peakMemory[s] = std::max(timeline.peakMemory[s], live[s]);
        if (a.kind != ActionKind::RecvActivation && a.kind != ActionKind::RecvGradient)
          timeline.actions.push_back({s, a, start, end});
        if (a.kind == ActionKind::Backward)
          timeline.makespan = std::max(timeline.makespan, end);
        clock[s] = end;
        ++pc[s];
        progress = true;
      }
    blocked:;
      // A blocked stage resumes on a later sweep, once its message exists.
    }
  }
  timeline.bubbleFraction =
      timeline.makespan > 0 ? 1.0 - compute / (k * timeline.makespan) : 0.0;
  return timeline;
}

std::string mlir::gpipe::renderSvg(const Schedule &schedule, const Timeline &timeline,
                                   const std::string &title) {
  double end = 0;
  for (const TimedAction &t : timeline.actions)
    end = std::max(end, t.end);
  if (end <= 0)
    end = 1;
  const double width = 1200, left = 90, rowHeight = 44, laneHeight = 10, top = 50;
  int k = schedule.stages;
  double height = top + k * (rowHeight + laneHeight + 12) + 50;
  auto x = [&](double t) { return left + (width - left - 20) * t / end; };
  std::string svg;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                "font-family=\"sans-serif\" font-size=\"11\">\n"
                "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                "<text x=\"%.0f\" y=\"22\" font-size=\"14\">%s</text>\n",
                width, height, left, title.c_str());
  svg += buf;
  for (int s = 0; s < k; ++s) {
    double y = top + s * (rowHeight + laneHeight + 12);
    std::snprintf(buf, sizeof buf, "<text x=\"8\" y=\"%.1f\">stage %d</text>\n",
                  y + rowHeight / 2 + 4, s);
    svg += buf;
  }
  for (const TimedAction &t : timeline.actions) {
    double y = top + t.stage * (rowHeight + laneHeight + 12);
    const char *color = "#9e9e9e";
    bool comm = false;
    switch (t.action.kind) {
    case ActionKind::Forward: color = "#4f8fd6"; break;
    case ActionKind::Recompute: color = "#f0a43a"; break;
    case ActionKind::Backward: color = "#58b368"; break;
    case ActionKind::Update: color = "#9e9e9e"; break;
    default: color = "#a36fc7"; comm = true; break;
    }
    double x0 = x(t.start), w = std::max(0.5, x(t.end) - x0);
    double yy = comm ? y + rowHeight + 2 : y, h = comm ? laneHeight : rowHeight;
    std::snprintf(buf, sizeof buf,
                  "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" fill=\"%s\" "
                  "stroke=\"white\" stroke-width=\"0.5\"><title>stage %d %s mb %d: %.4g-%.4g "
                  "ms</title></rect>\n",
                  x0, yy, w, h, color, t.stage, actionName(t.action.kind), t.action.microBatch,
                  t.start * 1e3, t.end * 1e3);
    svg += buf;
    if (!comm && t.action.microBatch >= 0 && w > 14) {
      std::snprintf(buf, sizeof buf,
                    "<text x=\"%.2f\" y=\"%.1f\" fill=\"white\" text-anchor=\"middle\">%d</text>\n",
                    x0 + w / 2, y + rowHeight / 2 + 4, t.action.microBatch);
      svg += buf;
    }
  }
  double ly = height - 22;
  const char *names[] = {"forward", "recompute", "backward", "update", "transfer"};
  const char *colors[] = {"#4f8fd6", "#f0a43a", "#58b368", "#9e9e9e", "#a36fc7"};
  for (int i = 0; i < 5; ++i) {
    std::snprintf(buf, sizeof buf,
                  "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                  "<text x=\"%.0f\" y=\"%.0f\">%s</text>\n",
                  left + i * 120.0, ly - 10, colors[i], left + i * 120.0 + 16, ly, names[i]);
    svg += buf;
  }
  std::snprintf(buf, sizeof buf,
                "<text x=\"%.0f\" y=\"%.0f\">%.4g ms; bubble %.1f%%</text>\n</svg>\n",
                left + 620, ly, timeline.makespan * 1e3, timeline.bubbleFraction * 100);
  svg += buf;
  return svg;
}
