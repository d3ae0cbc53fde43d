/*
 * mec-offload: the multi-MEC task-offloading scenario of xr-codec-marl (seeds 000 and 001),
 * packet-level.
 *
 * N IoT devices (UEs of one or more NR cells, LTE with --ran=lte) generate compute tasks; at
 * every decision step (--stepInterval, 0.1 s) each device's agent runs its next task locally
 * or uploads a fraction of it over the real uplink, at a transmit power, to one of K edge
 * servers behind the core, which queue it (FIFO or processor sharing), compute it and send
 * the result back over the downlink. Servers fail and are repaired in the failures variant.
 * With --actions=hybrid the fraction and the power are continuous values beside a target
 * head (local or server k); standalone, --fixedAction gives the heads and --fixedContinuous
 * the values.
 * See mec-scenario.h for the topology and the report, mec-device.h for the device,
 * mec-server.h for the server.
 *
 * Output on stdout: with --printKpis one JSON line per window, and always one final JSON line
 * ({"summary": ...}). Exit code 0 after a complete episode, else see xrmarl::ExitCode.
 */
#include "mec-scenario.h"

#include "ns3/command-line.h"
#include "ns3/log.h"

using namespace ns3;

NS_LOG_COMPONENT_DEFINE("MecOffload");

int
main(int argc, char* argv[])
{
    GOOGLE_PROTOBUF_VERIFY_VERSION;
    const std::string program = "mec-offload";
    XrMarlFlags flags; // first: its wall clock times the whole run
    flags.stepInterval = 0.1;
    flags.episodeLimit = 100;
    XrMarlRanConfig ranCfg;
    // MEC defaults: uploads of up to 5 Mbit queue at the UE's RLC; 23 dBm UEs at 3.5 GHz.
    // NR uplink: 5G-LENA v4.0's OFDMA schedulers give a power-limited UE beyond ~200 m grants
    // it cannot decode, so bulk uploads never finish there, and its RLC AM stalls with ten
    // uploading UEs; TDMA PF with RLC UM (HARQ below) carries them (docs/mec.md, measured).
    ranCfg.rlcBufferBytes = 8 * 1000 * 1000;
    ranCfg.nrScheduler = "ns3::NrMacSchedulerTdmaPF";
    ranCfg.ueTxDbm = 23.0;
    ranCfg.frequencyGhz = 3.5;
    MecOffloadConfig mecCfg;

    CommandLine cmd(__FILE__);
    cmd.Usage("Multi-MEC task offloading scenario (xr-codec-marl). Talks to the agent server at "
              "--endpoint, or runs standalone with --fixedAction.");
    mecCfg.AddTo(cmd);
    flags.AddTo(cmd);
    ranCfg.AddTo(cmd);
    cmd.Parse(argc, argv);
    flags.Check(program);
    ranCfg.Check(program);
    mecCfg.Check(program, ranCfg.IsNr());
    if (flags.warmup < flags.stepInterval)
    {
        XrMarlUsageError(program, "--warmup must be at least --stepInterval (tasks arrive "
                                  "from one step before step 0)");
    }

    if (flags.Standalone() && mecCfg.Hybrid() && mecCfg.fixedContinuous.empty())
    {
        XrMarlUsageError(program, "--actions=hybrid with --fixedAction (the target heads) needs "
                                  "--fixedContinuous (alpha,powerDbm)");
    }

    XrMarlSeedRng(flags.seed, flags.run);
    XrMarlAgentLoop loop(flags, program, MecAgentFields());
    MecOffloadScenario scenario(mecCfg, flags, ranCfg);
    return XrMarlRunScenario(loop, scenario, flags.WarmUp());
}
