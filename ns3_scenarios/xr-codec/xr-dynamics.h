/*
 * Dynamics where codec adaptation matters (issue 14), all off by default (the paper's
 * setting): time-varying cell load from background users, mobility that crosses the ring,
 * and blockage. The analytic twin models the same (xr_codec_marl/scenarios/xr/dynamics.py).
 *
 *  - XrDynamicsConfig: the flags (loadUsers, loadMbps, loadOnS, loadOffS, mobility,
 *    blockageRate, blockageS, blockageDb) and their checks.
 *  - ChordWalk: "cross" mobility. Each leg goes straight from where the UE is, past the base
 *    station at a random distance h in [rMin, max(rMin, rMax / 4)], to the ring edge; then
 *    the next leg starts there.
 *  - XrBlockageLossModel: a PropagationLossModel that adds blockageDb to every link of a
 *    blocked UE; each UE's blockages start as a Poisson process and last exponential times.
 *  - XrDynamics: builds them into the scenario (background UEs with on/off downlink
 *    traffic, chord walks, the loss model on every spectrum channel of the RAN).
 *
 * Every random variable here has its own stream (5000 and up) and is only created when its
 * dynamic is on, so runs with the dynamics off are bit-identical to runs without this code.
 */
#ifndef XR_DYNAMICS_H
#define XR_DYNAMICS_H

#include "annulus-walk.h"
#include "xrmarl-agent-loop.h"
#include "xrmarl-json.h"
#include "xrmarl-ran.h"

#include "ns3/command-line.h"
#include "ns3/constant-velocity-mobility-model.h"
#include "ns3/node-container.h"
#include "ns3/nstime.h"
#include "ns3/propagation-loss-model.h"
#include "ns3/random-variable-stream.h"
#include "ns3/simple-ref-count.h"

#include <map>
#include <string>
#include <vector>

namespace ns3
{

/// The dynamics' parameters (the member names are the flags' names).
struct XrDynamicsConfig
{
    uint32_t loadUsers{0};      ///< background (non-agent) downlink users
    double loadMbps{10.0};      ///< each one's rate while on
    double loadOnS{2.0};        ///< mean on period (exponential)
    double loadOffS{2.0};       ///< mean off period (exponential)
    std::string mobility{"walk"}; ///< walk (random walk) or cross (ChordWalk)
    double blockageRate{0.0};   ///< blockage onsets per XR user per second (0: none)
    double blockageS{1.0};      ///< mean blockage duration
    double blockageDb{20.0};    ///< extra path loss while blocked

    void AddTo(CommandLine& cmd);
    /// After cmd.Parse(): a bad value ends the process with XrMarlUsageError (one line).
    void Check(const std::string& program) const;

    bool Cross() const
    {
        return mobility == "cross";
    }
};

/// "cross" mobility: straight chords through the disc, past the base station (see the file
/// comment). The base station is at the origin.
class ChordWalk : public SimpleRefCount<ChordWalk>
{
  public:
    ChordWalk(Ptr<ConstantVelocityMobilityModel> m,
              double rMin,
              double rMax,
              double speed,
              Ptr<UniformRandomVariable> rv);

    /// The first leg now, the next ones as each ends.
    void Start();

  private:
    void Leg();

    Ptr<ConstantVelocityMobilityModel> m_mob;
    double m_rMin;
    double m_rMax;
    double m_speed;
    Ptr<UniformRandomVariable> m_rv;
};

/// Per-UE blockage state: onsets as a Poisson process, exponential durations. One instance
/// is shared by the XrBlockageLossModel of every spectrum channel.
class XrBlockage : public SimpleRefCount<XrBlockage>
{
  public:
    /// Follow this UE (its mobility model identifies its links): blocked at first with the
    /// stationary probability rate * meanS / (1 + rate * meanS), then onsets at `rate` per
    /// second and durations of mean `meanS`, drawn from `rv`.
    void AddUe(Ptr<MobilityModel> ue, double rate, double meanS, Ptr<UniformRandomVariable> rv);
    /// True while the UE is blocked (false for a UE not followed).
    bool IsBlocked(const MobilityModel* ue) const;
    /// Total blocked time of the UE so far (zero for a UE not followed).
    Time BlockedTime(const MobilityModel* ue) const;

  private:
    struct Ue
    {
        double rate;
        double meanS;
        Ptr<UniformRandomVariable> rv;
        bool blocked{false};
        Time since; ///< start of the current state
        Time blockedTotal;
    };

    void Toggle(const MobilityModel* ue);
    void ScheduleNext(const MobilityModel* ue);

    std::map<const MobilityModel*, Ue> m_ues;
};

/// `Loss` dB more path loss on every link of a UE that its XrBlockage says is blocked.
/// Added in front of a spectrum channel's loss chain (SpectrumChannel::AddPropagationLossModel).
class XrBlockageLossModel : public PropagationLossModel
{
  public:
    static TypeId GetTypeId();
    XrBlockageLossModel();

    void SetBlockage(Ptr<XrBlockage> blockage);

  private:
    double DoCalcRxPower(double txPowerDbm, Ptr<MobilityModel> a, Ptr<MobilityModel> b) const override;
    int64_t DoAssignStreams(int64_t stream) override;

    double m_lossDb{20.0};
    Ptr<XrBlockage> m_blockage;
};

/// The dynamics of one xr-codec run: what XrCodecScenario::Build() calls.
class XrDynamics
{
  public:
    XrDynamics(const XrDynamicsConfig& cfg, double rMin, double rMax, double z, double speed, Time turnInterval);

    /// The background UEs' nodes (create them after the XR UEs'): placed uniformly by area
    /// in the annulus, moving like the XR users. Empty without load.
    NodeContainer CreateLoadNodes();
    /// The speed for the XR users' random walk: theirs, 0 when they cross instead.
    double WalkSpeed() const;
    /// Cross mobility for the XR users (nothing for walk).
    void StartMobility(NodeContainer xrUes);
    /// On/off downlink traffic from `server` to each background UE (`ran`'s UE devices
    /// firstLoad.. are theirs) from `start` on, and a sink on each.
    void InstallLoadTraffic(const XrMarlRan& ran, uint32_t firstLoad, Ptr<Node> server, uint32_t mtu, Time start);
    /// Blockage for the XR users, on every spectrum channel of the RAN (nothing when off).
    void InstallBlockage(NodeContainer xrUes);

    uint32_t LoadUsers() const
    {
        return m_cfg.loadUsers;
    }

    /// The settings in the Hello parameters, under the Python settings' names (load_users,
    /// load_mbps, load_on_s, load_off_s, mobility, blockage_rate_hz, blockage_s, blockage_db).
    void Announce(XrMarlAgentLoop& loop) const;
    /// A "dynamics" object in the summary: the settings, and with blockage the seconds each
    /// XR UE (`xrUes`, in user order, keyed by `ids`) spent blocked.
    void WriteSummary(XrMarlJsonWriter& js, NodeContainer xrUes, const std::vector<std::string>& ids) const;

  private:
    XrDynamicsConfig m_cfg;
    double m_rMin;
    double m_rMax;
    double m_z;
    double m_speed;
    Time m_turn;
    NodeContainer m_load;
    std::vector<Ptr<AnnulusWalk>> m_loadWalks;
    std::vector<Ptr<ChordWalk>> m_chords;
    Ptr<XrBlockage> m_blockage;
};

} // namespace ns3

#endif // XR_DYNAMICS_H
