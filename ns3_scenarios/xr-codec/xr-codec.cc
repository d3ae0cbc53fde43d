/*
 * xr-codec: the XR codec-adaptation scenario of xr-codec-marl (seed 002, Table III).
 *
 * One base station and N XR users (--users; default three: AR with video + audio 0.756 Mbps /
 * 4 ms + pose 100 B / 4 ms, VR, CG), placed uniformly (by area) in the disc
 * [minDistance, ringRadius] around the base station and walking at 3 m/s inside it. Downlink
 * XR traffic per TR 38.838 from a remote host through the EPC on a low-latency bearer (QCI 80,
 * Release 15). Every window (stepInterval, 0.5 s) each UE's KPIs are measured from its
 * received packets and sent to the agent server, whose joint action sets the N video codec
 * rates for the next window: one of --nRates rates each, or with --actions=continuous
 * (issue 15) any rate in the user's [min, max] Mbps, announced as a bounded continuous action
 * dimension ("codec_rate", Mbps; the bridge refuses values outside it or not finite).
 *
 * RAN: ns-3's LTE (default; 20 MHz = 100 RBs, UMa NLoS with shadowing at 4 GHz, RLC UM with a
 * 60 KB transmit buffer), or 5G-LENA NR with -DXRMARL_WITH_NR=ON (common/xrmarl-ran.*).
 *
 * Output on stdout: with --printKpis one JSON line per window ({"window": ...}), and always
 * one final JSON line ({"summary": ...}). Exit code 0 after a complete episode, else see
 * xrmarl::ExitCode (1 usage, 2 protocol, 3 timeout, 4 bad action, 130 signal).
 *
 * The pieces: common/ (flags, RNG, RAN, RLC buffer, agent loop, JSON) and, here,
 * xr-scenario.* (flags, build, KPIs, actions, summary), xr-users.*, annulus-walk.*,
 * xr-traffic.*, xr-dynamics.* (load, cross mobility, blockage; off by default).
 */
#include "xr-scenario.h"

#include "ns3/command-line.h"
#include "ns3/log.h"

using namespace ns3;

NS_LOG_COMPONENT_DEFINE("XrCodec");

int
main(int argc, char* argv[])
{
    GOOGLE_PROTOBUF_VERIFY_VERSION;
    const std::string program = "xr-codec";
    XrMarlFlags flags; // first: its wall clock times the whole run
    XrMarlRanConfig ranCfg;
    XrCodecConfig xrCfg;

    CommandLine cmd(__FILE__);
    cmd.Usage("XR codec adaptation scenario (xr-codec-marl). Talks to the agent server at "
              "--endpoint, or runs standalone with --fixedAction.");
    xrCfg.AddTo(cmd);
    flags.AddTo(cmd);
    ranCfg.AddTo(cmd);
    cmd.Parse(argc, argv);
    flags.Check(program);
    ranCfg.Check(program);
    std::vector<XrUser> users = xrCfg.Check(program, ranCfg);

    XrMarlSeedRng(flags.seed, flags.run);
    XrMarlAgentLoop loop(flags, program, XrKpiNames());
    XrCodecScenario scenario(xrCfg, flags, ranCfg, std::move(users));
    return XrMarlRunScenario(loop, scenario, flags.WarmUp());
}
