/*
 * UE placement and walk in an annulus (see annulus-walk.h).
 */
#include "annulus-walk.h"

#include "ns3/log.h"
#include "ns3/simulator.h"

#include <cmath>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("XrAnnulusWalk");

AnnulusWalk::AnnulusWalk(Ptr<ConstantVelocityMobilityModel> m,
                         double rMin,
                         double rMax,
                         double speed,
                         Time turnInterval,
                         Ptr<UniformRandomVariable> rv)
    : m_mob(m),
      m_rMin(rMin),
      m_rMax(rMax),
      m_speed(speed),
      m_turn(turnInterval),
      m_rv(rv)
{
}

void
AnnulusWalk::Start()
{
    Turn();
    Check();
}

void
AnnulusWalk::Turn()
{
    const double a = m_rv->GetValue(0, 2 * M_PI);
    m_mob->SetVelocity(Vector(m_speed * std::cos(a), m_speed * std::sin(a), 0));
    Simulator::Schedule(m_turn, &AnnulusWalk::Turn, Ptr<AnnulusWalk>(this));
}

void
AnnulusWalk::Check()
{
    const Vector p = m_mob->GetPosition();
    Vector v = m_mob->GetVelocity();
    const double dt = m_check.GetSeconds();
    const double nx = p.x + v.x * dt;
    const double ny = p.y + v.y * dt;
    const double r = std::hypot(nx, ny);
    const double pr = std::hypot(p.x, p.y);
    if ((r > m_rMax || r < m_rMin) && pr > 0)
    {
        const double ux = p.x / pr;
        const double uy = p.y / pr;
        const double vr = v.x * ux + v.y * uy; // radial speed
        if ((r > m_rMax && vr > 0) || (r < m_rMin && vr < 0))
        {
            v.x -= 2 * vr * ux;
            v.y -= 2 * vr * uy;
            m_mob->SetVelocity(v);
        }
    }
    Simulator::Schedule(m_check, &AnnulusWalk::Check, Ptr<AnnulusWalk>(this));
}

std::vector<Ptr<AnnulusWalk>>
PlaceInAnnulus(NodeContainer ues,
               double rMin,
               double rMax,
               double z,
               double speed,
               Time turnInterval,
               int64_t stream,
               std::vector<double>& startDistance)
{
    Ptr<UniformRandomVariable> placeRv = CreateObject<UniformRandomVariable>();
    placeRv->SetStream(stream);
    std::vector<Ptr<AnnulusWalk>> walks;
    startDistance.assign(ues.GetN(), 0.0);
    for (uint32_t i = 0; i < ues.GetN(); ++i)
    {
        // uniform by area in the annulus
        const double r = std::sqrt(placeRv->GetValue(rMin * rMin, rMax * rMax));
        const double a = placeRv->GetValue(0, 2 * M_PI);
        auto mob = ues.Get(i)->GetObject<ConstantVelocityMobilityModel>();
        mob->SetPosition(Vector(r * std::cos(a), r * std::sin(a), z));
        startDistance[i] = r;
        Ptr<UniformRandomVariable> walkRv = CreateObject<UniformRandomVariable>();
        walkRv->SetStream(stream + 1 + i);
        walks.push_back(Create<AnnulusWalk>(mob, rMin, rMax, speed, turnInterval, walkRv));
        if (speed > 0)
        {
            walks.back()->Start();
        }
    }
    NS_LOG_INFO(ues.GetN() << " UEs placed in [" << rMin << ", " << rMax << "] m");
    return walks;
}

} // namespace ns3
