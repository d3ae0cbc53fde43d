/*
 * UE mobility of the XR scenario: placed uniformly by area in an annulus around the base
 * station, walking at constant speed with random headings, kept inside the annulus.
 */
#ifndef XR_ANNULUS_WALK_H
#define XR_ANNULUS_WALK_H

#include "ns3/constant-velocity-mobility-model.h"
#include "ns3/node-container.h"
#include "ns3/nstime.h"
#include "ns3/random-variable-stream.h"
#include "ns3/simple-ref-count.h"

#include <vector>

namespace ns3
{

/// Keeps a UE walking at constant speed inside the annulus [rMin, rMax] around the origin:
/// a new random heading every `turnInterval`, and a reflection of the radial velocity
/// component whenever the next 50 ms would take it out of the annulus.
class AnnulusWalk : public SimpleRefCount<AnnulusWalk>
{
  public:
    AnnulusWalk(Ptr<ConstantVelocityMobilityModel> m,
                double rMin,
                double rMax,
                double speed,
                Time turnInterval,
                Ptr<UniformRandomVariable> rv);

    /// First heading now, then turns and boundary checks for the rest of the simulation.
    void Start();

  private:
    void Turn();
    void Check();

    Ptr<ConstantVelocityMobilityModel> m_mob;
    double m_rMin;
    double m_rMax;
    double m_speed;
    Time m_turn;
    Time m_check{MilliSeconds(50)};
    Ptr<UniformRandomVariable> m_rv;
};

/**
 * Place `ues` (which have a ConstantVelocityMobilityModel) uniformly by area in the annulus
 * [rMin, rMax] at height `z`, and give each an AnnulusWalk at `speed` (started when
 * speed > 0). RNG streams: `stream` for the placement, `stream + 1 + i` for UE i's walk.
 * Returns the walks; `startDistance[i]` receives UE i's initial distance from the origin.
 */
std::vector<Ptr<AnnulusWalk>> PlaceInAnnulus(NodeContainer ues,
                                             double rMin,
                                             double rMax,
                                             double z,
                                             double speed,
                                             Time turnInterval,
                                             int64_t stream,
                                             std::vector<double>& startDistance);

} // namespace ns3

#endif // XR_ANNULUS_WALK_H
